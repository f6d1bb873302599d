package service

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/indexer/indexer/internal/dto"
)

// TestPrefetchAdvisesColdFilesOnly: on a tree in the page cache the
// prefetcher stops asking the kernel for files after a few probes (see
// cacheWarmth); on the same tree evicted from the cache it asks for nearly
// every file. Either way every digest is right: probes are read from the
// page cache alone first (RWF_NOWAIT), the others as before.
func TestPrefetchAdvisesColdFilesOnly(t *testing.T) {
	dir := t.TempDir()
	const n = 1500
	content := map[string][]byte{}
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("d%d", i%3), fmt.Sprintf("f%04d", i))
		content[p] = randomBytes(uint64(i), 1+i*7%5000)
		writeFile(t, p, content[p])
	}
	var advised atomic.Int64
	testHookAdvised = func() { advised.Add(1) }
	t.Cleanup(func() { testHookAdvised = nil })
	scan := func(t *testing.T) int64 {
		advised.Store(0)
		c := openTestCatalog(t)
		rep := mustScan(t, c, []string{dir}, ScanOptions{})
		if rep.Status != dto.ScanComplete || rep.Counts.Added != n {
			t.Fatalf("report %s %+v, want complete, %d added", rep.Status, rep.Counts, n)
		}
		rows := dumpFiles(t, c)
		for p, b := range content {
			assertHashed(t, rows, p, b)
		}
		t.Logf("advised %d of %d files", advised.Load(), n)
		return advised.Load()
	}
	t.Run("cached", func(t *testing.T) {
		// Written back first: a page under writeback cannot be read
		// without waiting. The advice stops after warmAfter probes, one in
		// probeEvery files, by when the prefetcher, up to prefetchAhead
		// files ahead of the readers, has asked for those too: about 500
		// files, and a probe that misses now and then starts it again.
		// Never most of them.
		unix.Sync()
		if a := scan(t); a > n/2 {
			t.Errorf("the prefetcher asked for %d of %d files in the page cache already", a, n)
		}
	})
	t.Run("evicted", func(t *testing.T) {
		for p := range content {
			evict(t, p)
		}
		if a := scan(t); a < n*3/4 {
			t.Errorf("the prefetcher asked for %d of %d files not in the page cache", a, n)
		}
	})
}

// evict drops path's pages from the page cache: written back, clean pages
// can be dropped by anyone who may read them.
func evict(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
}
