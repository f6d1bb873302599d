package service

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/uow"
)

// TestScanMarksDeadScansInterrupted proves that a scan row left "running" by
// a process that no longer exists (a scan killed with SIGKILL) is marked
// interrupted by the next scan on the host, while a row whose process is
// alive, a scan still running elsewhere on the host, is left alone.
func TestScanMarksDeadScansInterrupted(t *testing.T) {
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skipf("cannot run true to get a dead pid: %v", err)
	}
	host, _ := os.Hostname()
	c := openTestCatalog(t)
	ctx := context.Background()
	var deadID, liveID, otherHostID, reusedID, laterID int64
	err := c.UoW().Do(ctx, "test", func(ctx context.Context, r *uow.Repos) error {
		var err error
		started := time.Now().Add(-time.Hour)
		if deadID, err = r.Scans.Create(ctx, dto.Scan{Machine: "m", Roots: []string{"/x"}, Started: started, Host: host, PID: dead.Process.Pid}); err != nil {
			return err
		}
		// The parent process runs, and started before this scan row.
		if liveID, err = r.Scans.Create(ctx, dto.Scan{Machine: "m", Roots: []string{"/y"}, Started: time.Now(), Host: host, PID: os.Getppid()}); err != nil {
			return err
		}
		// The same live process, but it started after the scan began: its
		// pid was reused, the scan's process is gone.
		if laterID, err = r.Scans.Create(ctx, dto.Scan{Machine: "m", Roots: []string{"/v"}, Started: started, Host: host, PID: os.Getppid()}); err != nil {
			return err
		}
		if otherHostID, err = r.Scans.Create(ctx, dto.Scan{Machine: "m", Roots: []string{"/z"}, Started: started, Host: host + "-elsewhere", PID: dead.Process.Pid}); err != nil {
			return err
		}
		// Recorded by a process whose pid this one now has (in a
		// container, every run may be pid 1): it cannot be running.
		reusedID, err = r.Scans.Create(ctx, dto.Scan{Machine: "m", Roots: []string{"/w"}, Started: started, Host: host, PID: os.Getpid()})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "f"), []byte("x"))
	rep, err := c.Scan(ctx, []string{root}, ScanOptions{Machine: "m"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]dto.ScanStatus{deadID: dto.ScanInterrupted, reusedID: dto.ScanInterrupted, laterID: dto.ScanInterrupted, liveID: dto.ScanRunning,
		otherHostID: dto.ScanRunning, rep.ID: dto.ScanComplete}
	err = c.UoW().Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		for id, status := range want {
			sc, err := r.Scans.Get(ctx, id)
			if err != nil {
				return err
			}
			if sc.Status != status {
				t.Errorf("scan %d: status %s, want %s", id, sc.Status, status)
			}
			if id == rep.ID && (sc.Host != host || sc.PID != os.Getpid()) {
				t.Errorf("scan %d recorded host %q pid %d, want %q %d", id, sc.Host, sc.PID, host, os.Getpid())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
