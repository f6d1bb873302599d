package service

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/indexer/indexer/internal/walk"
)

// TestScanChangedSinceWalkReadOnce: a file written to once between
// the walk and its read (the prefetcher runs up to 256 files ahead), then
// once while it is read: a change before the read costs no attempt, the
// first read takes a fresh stat, and succeeds.
func TestScanChangedSinceWalkReadOnce(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("version 1"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := walk.Lstat(p) // the walk
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	if err := os.WriteFile(p, []byte("version 2"), 0o644); err != nil { // changed since the walk
		t.Fatal(err)
	}
	reads := 0
	testHookReader = func(path string, r io.Reader) io.Reader {
		reads++
		if reads == 2 { // the writer strikes once more, during the second read
			time.Sleep(10 * time.Millisecond)
			_ = os.WriteFile(p, []byte("version 3"), 0o644)
		}
		return r
	}
	defer func() { testHookReader = nil }()
	s := &scanRun{opts: ScanOptions{Progress: &ScanProgress{}}}
	j := job{path: p, st: st}
	j.opened = willNeed(p, false, st.Size, true)
	r := s.readSmall(context.Background(), semaphore.NewWeighted(readBudget), j)
	if r.err != nil {
		t.Errorf("reads: %d, err %v: a file read undisturbed on its first read (it changed before, not during) failed", reads, r.err)
	} else {
		r.release()
	}
}
