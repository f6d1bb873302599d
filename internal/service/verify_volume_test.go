package service

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/volume/volumetest"
)

// TestVerifyVolume: verify reads a volume's files where it is mounted now,
// also when asked for paths below its mount point; while it is not mounted
// its files are offline, not checked: never missing, and never read from
// the host (the volume holds /etc/hostname, as the host does).
func TestVerifyVolume(t *testing.T) {
	ctx := context.Background()
	img := volumetest.Image(t, "ext4", "VERIFY")
	dir, unmount := volumetest.Mount(t, img, "verify")
	writeFile(t, filepath.Join(dir, "a.txt"), []byte("alpha"))
	writeFile(t, filepath.Join(dir, "etc", "hostname"), []byte("not the host's"))
	arcSettle()
	c := openTestCatalog(t)
	rep, err := c.Scan(ctx, []string{dir}, ScanOptions{Machine: "host", Workers: 2, Volume: VolumeForce})
	if err != nil || len(rep.Volumes) != 1 {
		t.Fatalf("scan: %v, %+v", err, rep.Volumes)
	}
	machine := rep.Volumes[0].Machine

	v, err := c.Verify(ctx, VerifyOptions{Machine: machine, Workers: 2})
	if err != nil || v.Checked != 2 || v.OK != 2 || len(v.Findings) != 0 {
		t.Errorf("verify of the mounted volume: %v, %+v; want 2 ok", err, v)
	}
	v, err = c.Verify(ctx, VerifyOptions{Machine: "host", Paths: []string{filepath.Join(dir, "etc")}, Workers: 2})
	if err != nil || v.Checked != 1 || v.OK != 1 || len(v.Findings) != 0 {
		t.Errorf("verify %s/etc: %v, %+v; want 1 ok", dir, err, v)
	}
	v, err = c.Verify(ctx, VerifyOptions{Machine: machine, Paths: []string{filepath.Join(dir, "a.txt")}, Workers: 2})
	if err != nil || v.Checked != 1 || v.OK != 1 {
		t.Errorf("verify --machine %s %s/a.txt: %v, %+v; want 1 ok", machine, dir, err, v)
	}

	unmount()
	v, err = c.Verify(ctx, VerifyOptions{Machine: machine, Workers: 2})
	if err != nil || v.Offline != 2 || v.Checked != 0 || v.Missing+v.Changed+v.Corrupt+v.Unreadable != 0 || v.Bytes != 0 {
		t.Errorf("verify of the volume unmounted: %v, %+v; want 2 offline and nothing read", err, v)
	}
	for _, f := range v.Findings {
		if f.Outcome != dto.VerifyOffline {
			t.Errorf("finding %+v, want offline", f)
		}
	}
}
