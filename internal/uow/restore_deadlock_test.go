package uow_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/pgtest"
	"github.com/indexer/indexer/internal/uow"
)

// TestRestoreRetriesAfterDeadlock: a writer folds content_totals (locking
// it) and then updates scans; a restore locks scans, ..., content_totals in
// that order. A restore that starts between the writer's two statements
// deadlocks with it, and PostgreSQL aborts one of them: both must still
// succeed (the restore, when it is the one aborted, tries again).
func TestRestoreRetriesAfterDeadlock(t *testing.T) {
	ctx := t.Context()
	d, err := db.Open(ctx, pgtest.URL(t), db.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	u := uow.New(d)
	var id int64
	if err := u.Do(ctx, "setup", func(ctx context.Context, r *uow.Repos) error {
		var err error
		id, err = r.Scans.Create(ctx, dto.Scan{Machine: "m0", Roots: []string{"/m0"}, Started: time.Now(), Host: "h", PID: 1})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	bk := filepath.Join(t.TempDir(), "b.db")
	counts, err := d.BackupTo(ctx, bk)
	if err != nil {
		t.Fatal(err)
	}
	restoreErr := make(chan error, 1)
	attempts := 0
	err = u.Do(ctx, "scan.finish", func(ctx context.Context, r *uow.Repos) error {
		attempts++
		if err := r.Files.FoldContentTotals(ctx); err != nil {
			return err
		}
		if attempts == 1 {
			go func() {
				_, err := d.RestoreFrom(context.Background(), bk, counts)
				restoreErr <- err
			}()
			time.Sleep(500 * time.Millisecond) // the restore now waits for content_totals
		}
		return r.Scans.Finish(ctx, dto.Scan{ID: id, Finished: time.Now(), Status: dto.ScanComplete})
	})
	rerr := <-restoreErr
	t.Logf("scan.finish: err=%v after %d attempts; restore: err=%v", err, attempts, rerr)
	if err != nil || rerr != nil {
		t.Fatalf("a fold and a restore at once: scan.finish %v, restore %v", err, rerr)
	}
}
