package service

import (
	"context"
	"path/filepath"
	"testing"
)

// TestScanOnStartOncePerScan: a scan of three volumes is three rows of
// scans, but one scan for its caller: OnStart is called once. The web
// server's handler reads one id from a channel that holds one; a second or
// third call used to block the scan forever, holding the catalog's lease.
func TestScanOnStartOncePerScan(t *testing.T) {
	ctx := context.Background()
	var roots []string
	for _, l := range []string{"ONE", "TWO", "THREE"} {
		img := volumeImage(t, "ext4", l)
		dir, _ := mountImage(t, img, l)
		writeFile(t, filepath.Join(dir, "f.txt"), []byte(l))
		roots = append(roots, dir)
	}
	c := openTestCatalog(t)
	var ids []int64
	rep, err := c.Scan(ctx, roots, ScanOptions{Machine: "host", Workers: 2, Volume: VolumeForce,
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
}
