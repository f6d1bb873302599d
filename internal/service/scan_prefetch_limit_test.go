package service

import (
	"fmt"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/indexer/indexer/internal/dto"
)

// TestScanLowDescriptorLimit scans under a descriptor limit of 128, as a
// service run with LimitNOFILE=128 has: the prefetcher must not keep so
// many files open that the readers' own opens fail.
func TestScanLowDescriptorLimit(t *testing.T) {
	const n = 3000
	dir := t.TempDir()
	for i := range n {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("d%d", i%10), fmt.Sprintf("f%04d", i)), fmt.Appendf(nil, "file %d", i))
	}
	c := openTestCatalog(t)
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	low := lim
	low.Cur = 128
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatal(err)
		}
	}()
	rep := mustScan(t, c, []string{dir}, ScanOptions{})
	if rep.Status != dto.ScanComplete || rep.Counts.Added != n {
		t.Fatalf("scan %s %+v, failures %v: want complete with %d added", rep.Status, rep.Counts, rep.Failures, n)
	}
}
