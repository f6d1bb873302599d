package uow_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/pgtest"
	"github.com/indexer/indexer/internal/uow"
)

// TestFileTotalsLockedInKeyOrder proves on PostgreSQL that a write locks
// the file_totals rows of its files in key order, as two chunks of one scan
// written side by side need (otherwise each can hold a row the other wants
// next: a deadlock). Writer A holds the row of the smallest extension;
// writer B then writes files of forty extensions, listed largest first, and
// waits for A. At that moment B must hold none of the other rows: a third
// transaction locks them all without waiting.
func TestFileTotalsLockedInKeyOrder(t *testing.T) {
	d, err := db.Open(t.Context(), pgtest.URL(t), db.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	u := uow.New(d)
	const exts = 40
	write := func(ctx context.Context, r *uow.Repos, prefix string, order []int) error {
		var fs []dto.FileWithHash
		for _, e := range order {
			p := fmt.Sprintf("/%s/f.e%02d", prefix, e)
			c := p // a content of its own
			fs = append(fs, dto.FileWithHash{Hash: digests(c), FileMeta: dto.FileMeta{Machine: "m", Path: p, Name: p[len(prefix)+2:],
				Size: int64(len(c)), Modified: time.Unix(1, 0), Scanned: time.Unix(1, 0), Operation: dto.OpAdd}})
		}
		_, err := r.Files.InsertMany(ctx, fs)
		return err
	}
	var all, reversed []int
	for e := range exts {
		all = append(all, e)
		reversed = append(reversed, exts-1-e)
	}
	// Every row exists beforehand: the writers below update them.
	if err := u.Do(t.Context(), "setup", func(ctx context.Context, r *uow.Repos) error {
		return write(ctx, r, "setup", all)
	}); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), guard)
	defer cancel()
	holding, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	var errA, errB error
	wg.Go(func() {
		errA = u.Do(ctx, "a", func(ctx context.Context, r *uow.Repos) error {
			if err := write(ctx, r, "a", []int{0}); err != nil {
				return err
			}
			close(holding)
			<-release
			return nil
		})
	})
	select {
	case <-holding:
	case <-ctx.Done():
		t.Fatalf("writer A: %v", errA)
	}
	wg.Go(func() {
		errB = u.Do(ctx, "b", func(ctx context.Context, r *uow.Repos) error { return write(ctx, r, "b", reversed) })
	})
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
		wg.Wait()
	}()

	// Wait for B to wait on A's lock.
	for {
		var waiting int
		if err := d.WithRead(func(x *sqlx.DB) error {
			return x.GetContext(ctx, &waiting, `SELECT COUNT(*) FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock'`)
		}); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("writer B never waited for writer A: %v", errB)
		case <-time.After(10 * time.Millisecond):
		}
	}
	var locked int
	err = d.WithWrite(func(x *sqlx.DB) error {
		tx, err := x.BeginTxx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		return tx.GetContext(ctx, &locked, `SELECT COUNT(*) FROM (SELECT 1 FROM file_totals
			WHERE machine = 'm' AND kind = 'file' AND ext <> 'e00'::BYTEA FOR UPDATE NOWAIT) t`)
	})
	if err != nil {
		t.Fatalf("writer B locked rows of file_totals beyond the one it waits for (not in key order): %v", err)
	}
	if locked != exts-1 {
		t.Fatalf("locked %d rows of file_totals, want %d", locked, exts-1)
	}
	close(release)
	wg.Wait()
	if errA != nil || errB != nil {
		t.Fatalf("writers: %v, %v", errA, errB)
	}
}
