package service

import (
	"io"
	"path/filepath"
	"testing"
	"time"
)

// halfThenWait passes the first half of a file through, then blocks until
// release is closed.
type halfThenWait struct {
	r       io.Reader
	left    int64
	release <-chan struct{}
}

func (h *halfThenWait) Read(b []byte) (int, error) {
	if h.left <= 0 {
		<-h.release
		return h.r.Read(b)
	}
	n, err := h.r.Read(b[:min(int64(len(b)), h.left)])
	h.left -= int64(n)
	return n, err
}

// TestScanProgressNamesSlowFileAndCounts holds the read of one file at its
// half and watches the progress: the count of the roots completes beside
// the scan with the files and bytes on disk, an ETA appears, and once the
// read has taken SlowAfter the file is named with half of it read.
func TestScanProgressNamesSlowFileAndCounts(t *testing.T) {
	root := t.TempDir()
	big := filepath.Join(root, "big.bin")
	const bigSize = 1 << 20
	writeFile(t, big, randomBytes(1, bigSize))
	writeFile(t, filepath.Join(root, "a", "small.txt"), []byte("small"))
	writeFile(t, filepath.Join(root, "b", "c", "other.txt"), []byte("other"))
	release := make(chan struct{})
	testHookReader = func(path string, r io.Reader) io.Reader {
		if path != big {
			return r
		}
		return &halfThenWait{r: r, left: bigSize / 2, release: release}
	}
	defer func() { testHookReader = nil }()

	c := openTestCatalog(t)
	p := &ScanProgress{}
	scanned := make(chan error, 1)
	go func() {
		_, err := c.Scan(t.Context(), []string{root}, ScanOptions{Machine: "m1", Progress: p})
		scanned <- err
	}()
	var s ProgressSnapshot
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		s = p.Snapshot(time.Now())
		if s.Counted && s.Slow != nil {
			break
		}
		if time.Now().After(deadline) {
			close(release)
			t.Fatalf("no count or no slow file within a minute: %+v", s)
		}
	}
	close(release)
	if s.TotalFiles != 3 || s.TotalBytes != bigSize+10 {
		t.Errorf("count: %d files, %d bytes; want 3 and %d", s.TotalFiles, s.TotalBytes, bigSize+10)
	}
	if s.Slow.Path != big || s.Slow.Size != bigSize || s.Slow.Done != bigSize/2 || s.Slow.Percent() != 50 || s.Slow.Elapsed < SlowAfter {
		t.Errorf("slow read %+v (%.1f%%); want %s at half of %d bytes", *s.Slow, s.Slow.Percent(), big, bigSize)
	}
	if s.ETA <= 0 || s.Files != 3 {
		t.Errorf("ETA %v with %d files met; want an estimate once all 3 are met", s.ETA, s.Files)
	}
	if err := <-scanned; err != nil {
		t.Fatal(err)
	}
	if s := p.Snapshot(time.Now()); s.Slow != nil || s.Bytes != bigSize+10 {
		t.Errorf("after the scan: %+v; want no file being read and every byte hashed", s)
	}
}

// TestProgressETA checks the estimate's arithmetic: the elapsed time
// extrapolated by the mean of the files' and the bytes' shares done.
func TestProgressETA(t *testing.T) {
	for _, c := range []struct {
		files, totalFiles, bytes, totalBytes int64
		want                                 time.Duration
	}{
		{50, 100, 25, 100, 10 * time.Second * 625 / 375}, // 37.5% done in 10 s
		{100, 100, 0, 1000, 10 * time.Second},            // walk done, nothing read: half
		{0, 100, 0, 100, 0},                              // nothing done: no estimate
		{100, 100, 100, 100, 0},                          // all done
		{120, 100, 200, 100, 0},                          // more than counted: done
		{10, 0, 0, 0, 0},                                 // an empty tree
	} {
		if got := eta(10*time.Second, c.files, c.totalFiles, c.bytes, c.totalBytes); got != c.want {
			t.Errorf("eta(10s, %d/%d files, %d/%d bytes) = %v, want %v", c.files, c.totalFiles, c.bytes, c.totalBytes, got, c.want)
		}
	}
}
