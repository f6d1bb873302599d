package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sync/semaphore"

	"github.com/indexer/indexer/internal/walk"
)

// TestScanPrefetchedFIFOLeftUnread: the walk saw a regular file; by the time
// the prefetcher opened its path (or its reader, for a probe: see
// cacheWarmth) it had become a FIFO that another process writes to. The
// reader must not read (consume) the FIFO's data: before it is read, the
// descriptor is checked, and a FIFO is refused unread.
func TestScanPrefetchedFIFOLeftUnread(t *testing.T) {
	for _, probe := range []bool{false, true} {
		t.Run(fmt.Sprintf("probe=%v", probe), func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "f")
			if err := os.WriteFile(p, []byte("regular!"), 0o644); err != nil {
				t.Fatal(err)
			}
			st, err := walk.Lstat(p) // the walk's stat
			if err != nil {
				t.Fatal(err)
			}
			// Replaced by a FIFO, which a writer holds open with data in it.
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Mkfifo(p, 0o644); err != nil {
				t.Fatal(err)
			}
			w, err := os.OpenFile(p, os.O_RDWR, 0) // O_RDWR: opens without waiting for a reader
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			secret := []byte("message for the pipe's real reader")
			if _, err := w.Write(secret); err != nil {
				t.Fatal(err)
			}
			s := &scanRun{opts: ScanOptions{Progress: &ScanProgress{}}}
			j := job{path: p, st: st, probe: probe}
			if !probe {
				j.opened = willNeed(p, false, st.Size, true) // the prefetcher
				if j.opened == nil {
					t.Fatal("the prefetcher could not open the FIFO")
				}
			}
			r := s.readSmall(context.Background(), semaphore.NewWeighted(readBudget), j)
			t.Logf("read result: err=%v", r.err)
			if !errors.Is(r.err, ErrNotRegular) {
				t.Errorf("err %v, want ErrNotRegular", r.err)
			}
			// What is left in the pipe for its real reader?
			rd, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer rd.Close()
			buf := make([]byte, 100)
			n, _ := syscall.Read(int(rd.Fd()), buf)
			if n != len(secret) {
				t.Errorf("the scan consumed the FIFO's data: %d of %d bytes left for its reader (%q)", max(n, 0), len(secret), buf[:max(n, 0)])
			}
		})
	}
}
