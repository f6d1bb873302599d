package service

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/volume/volumetest"
)

// TestScanOnStartOncePerScan: a scan of three volumes is three rows of
// scans, but one scan for its caller: OnStart is called once. The web
// server's handler reads one id from a channel that holds one; a second or
// third call used to block the scan forever, holding the catalog's lease.
// Its progress covers the three parts: the count's totals add up.
func TestScanOnStartOncePerScan(t *testing.T) {
	ctx := context.Background()
	var roots []string
	for _, l := range []string{"ONE", "TWO", "THREE"} {
		img := volumetest.Image(t, "ext4", l)
		dir, _ := volumetest.Mount(t, img, l)
		writeFile(t, filepath.Join(dir, "f.txt"), []byte(l))
		roots = append(roots, dir)
	}
	c := openTestCatalog(t)
	var ids []int64
	progress := &ScanProgress{}
	rep, err := c.Scan(ctx, roots, ScanOptions{Machine: "host", Workers: 2, Volume: VolumeForce, Progress: progress,
		OnStart: func(id int64) { ids = append(ids, id) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Volumes) != 3 {
		t.Fatalf("scan recorded %d volumes, want 3: %+v", len(rep.Volumes), rep.Volumes)
	}
	if len(ids) != 1 || ids[0] == 0 {
		t.Fatalf("OnStart was called with %v for one Scan, want one scan id", ids)
	}
	// ONE, TWO and THREE: 3 files of 11 bytes.
	if s := progress.Snapshot(time.Now()); !s.Counted || s.Files != 3 || s.TotalFiles != 3 || s.TotalBytes != 11 {
		t.Errorf("progress at the end: %+v; want 3 files of 3 counted, 11 bytes", s)
	}
}
