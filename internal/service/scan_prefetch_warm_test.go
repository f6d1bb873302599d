package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/semaphore"
	"golang.org/x/sys/unix"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/walk"
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
		if f := anyFile(content); !nowaitReads(t, f) {
			t.Skip("this file system cannot read without waiting (RWF_NOWAIT): the prefetcher advises every file, as before")
		}
		// Written back first: a page under writeback cannot be read
		// without waiting. The advice stops after warmAt probes, one in
		// probeEvery files, by when the prefetcher, up to prefetchAhead
		// files ahead of the readers, has asked for those too: about 500
		// files; each probe that misses costs about 128 more. Never most
		// of them.
		unix.Sync()
		if a := scan(t); a > n*3/4 {
			t.Errorf("the prefetcher asked for %d of %d files in the page cache already", a, n)
		}
	})
	t.Run("evicted", func(t *testing.T) {
		for p := range content {
			evict(t, p)
		}
		if p := anyFile(content); residentPagesOf(t, p) > 0 {
			t.Skip("this file system keeps pages after FADV_DONTNEED (tmpfs): the tree cannot be made cold here")
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

// TestProbeChangedSinceWalk: a probe whose file was rewritten since the walk
// (same size) is read as it is now, with its new stat, never the walk's.
func TestProbeChangedSinceWalk(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	writeFile(t, p, []byte("version 1"))
	st, err := walk.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	writeFile(t, p, []byte("version 2"))
	s := &scanRun{opts: ScanOptions{Progress: &ScanProgress{}}}
	r := s.readSmall(context.Background(), semaphore.NewWeighted(readBudget), job{path: p, st: st, probe: true})
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.release()
	now, err := walk.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	now.CtimeNS = 0 // written just now: racily clean, read again next time
	if got := string((*r.buf)[:r.n]); got != "version 2" || !r.st.Validators.Same(now.Validators) {
		t.Errorf("read %q with stat %+v, want %q with %+v", got, r.st.Validators, "version 2", now.Validators)
	}
}

func anyFile(content map[string][]byte) string {
	for p := range content {
		return p
	}
	return ""
}

// nowaitReads tells whether path's file system answers RWF_NOWAIT reads.
func nowaitReads(t *testing.T, path string) bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = unix.Preadv2(int(f.Fd()), [][]byte{make([]byte, 1)}, 0, unix.RWF_NOWAIT)
	return !errors.Is(err, unix.EOPNOTSUPP)
}

// residentPagesOf counts the pages of path in the page cache.
func residentPagesOf(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return residentPages(t, f, int(st.Size()))
}
