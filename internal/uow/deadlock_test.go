package uow_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/pgtest"
	"github.com/indexer/indexer/internal/uow"
)

// TestDoRetriesDeadlock makes two units of work on PostgreSQL lock two rows
// in opposite orders: the server ends one with a deadlock (40P01), Do runs
// it again, and both commit their writes. The first attempts meet at a
// barrier, so the deadlock is certain, not a matter of timing.
func TestDoRetriesDeadlock(t *testing.T) {
	d, err := db.Open(t.Context(), pgtest.URL(t), db.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	u := uow.New(d)
	var ids [2]int64
	err = u.Do(t.Context(), "setup", func(ctx context.Context, r *uow.Repos) error {
		for i := range ids {
			if ids[i], err = r.Scans.Create(ctx, dto.Scan{Machine: "m", Roots: []string{"/"}, Started: time.Unix(1, 0)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var barrier sync.WaitGroup
	barrier.Add(2)
	var once [2]sync.Once
	lock := func(ctx context.Context, r *uow.Repos, id int64) error {
		_, err := r.Tx.ExecContext(ctx, "UPDATE scans SET files_seen = files_seen + 1 WHERE id = $1", id)
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), guard)
			defer cancel()
			errs[i] = u.Do(ctx, "crossed", func(ctx context.Context, r *uow.Repos) error {
				if err := lock(ctx, r, ids[i]); err != nil {
					return err
				}
				once[i].Do(func() { barrier.Done(); barrier.Wait() })
				return lock(ctx, r, ids[1-i])
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("unit of work %d: %v", i, err)
		}
	}
	m := u.Metrics().Ops["crossed"]
	if m.Count != 2 || m.BusyRetries < 1 || len(m.Failures) != 0 {
		t.Errorf("metrics = %+v; want two successes after at least one retry", m)
	}
	for _, id := range ids {
		var n int64
		err := u.Read(t.Context(), func(ctx context.Context, r *uow.Repos) error {
			return r.Tx.GetContext(ctx, &n, "SELECT files_seen FROM scans WHERE id = $1", id)
		})
		if err != nil || n != 2 {
			t.Errorf("scan %d: files_seen = %d, %v; want 2, one from each unit of work", id, n, err)
		}
	}
}
