package service

import (
	"crypto/sha256"
	"fmt"
	"runtime"
	"testing"

	"github.com/indexer/indexer/internal/dto"
)

// TestSumOfSharedOut proves that a directory's content sum computed in parts
// on several CPUs is the sum computed file by file, for sizes on both sides
// of parallelSumFiles, with files that have no sha256 among them.
func TestSumOfSharedOut(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	for _, n := range []int{0, 1, parallelSumFiles - 1, parallelSumFiles, parallelSumFiles + 1, 1000, 1001} {
		files := make([]dto.DirFile, n)
		for i := range files {
			if i%7 == 3 {
				continue // not hashed (unreadable)
			}
			d := sha256.Sum256(fmt.Appendf(nil, "%d", i%500)) // duplicates too
			files[i].SHA256 = d[:]
		}
		g := newDigester()
		var want lattice
		for _, f := range files {
			if f.SHA256 != nil {
				want.add(g.element(f.SHA256))
			}
		}
		if got := g.sumOf(files); got != want {
			t.Errorf("%d files: the sum in parts differs from the sum file by file", n)
		}
	}
}
