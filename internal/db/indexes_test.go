package db

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/jmoiron/sqlx"
)

// TestDeferredIndexes proves the round trip of setting the indexes of files
// aside and building them: the kept ones stay, the others are dropped with
// their statements recorded, and building (as a migration does first, in
// one transaction, or one index at a time) brings back exactly the schema's
// indexes, also when one of them exists again already.
func TestDeferredIndexes(t *testing.T) {
	ctx := context.Background()
	d := openTemp(t)
	indexes := func() (built, deferred []string) {
		err := d.WithRead(func(r *sqlx.DB) error {
			if err := r.Select(&built, `SELECT name FROM sqlite_master
				WHERE type = 'index' AND tbl_name = 'files' AND sql IS NOT NULL ORDER BY name`); err != nil {
				return err
			}
			var err error
			deferred, err = DeferredIndexes(ctx, r)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return built, deferred
	}
	inTx := func(fn func(tx *sqlx.Tx) error) {
		t.Helper()
		if err := inWriteTx(ctx, d, fn); err != nil {
			t.Fatal(err)
		}
	}
	all, _ := indexes()
	summary := func() (triggers int, current bool) {
		err := d.WithRead(func(r *sqlx.DB) error {
			if err := r.Get(&triggers, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'files'"); err != nil {
				return err
			}
			var err error
			current, err = SummaryCurrent(ctx, r)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return triggers, current
	}
	for _, build := range []string{"all", "one by one"} {
		var n int
		inTx(func(tx *sqlx.Tx) error {
			var err error
			n, err = DeferIndexes(ctx, tx, "files", "files_path")
			return err
		})
		built, deferred := indexes()
		// The summary's triggers are set aside with them, last to be built.
		if n != len(all)-1 || !slices.Equal(built, []string{"files_path"}) || len(deferred) != n+1 ||
			deferred[n] != "summary" {
			t.Fatalf("after DeferIndexes: %d dropped, built %q, set aside %q; all were %q", n, built, deferred, all)
		}
		if triggers, current := summary(); triggers != 0 || current {
			t.Fatalf("after DeferIndexes: %d triggers on files, summary current %v; want none, false", triggers, current)
		}
		// Something made one of them again meanwhile: building forgets it.
		inTx(func(tx *sqlx.Tx) error {
			_, err := tx.ExecContext(ctx, "CREATE INDEX files_name ON files (name)")
			return err
		})
		if build == "all" {
			inTx(func(tx *sqlx.Tx) error { return buildAllDeferred(ctx, tx) })
		} else {
			for _, name := range deferred {
				inTx(func(tx *sqlx.Tx) error { return BuildDeferredIndex(ctx, tx, name) })
			}
		}
		if built, deferred := indexes(); !slices.Equal(built, all) || len(deferred) != 0 {
			t.Fatalf("built %s: indexes %q, set aside %q; want %q and none", build, built, deferred, all)
		}
		if triggers, current := summary(); triggers != 3 || !current {
			t.Fatalf("built %s: %d triggers on files, summary current %v; want 3, true", build, triggers, current)
		}
	}
}

// TestWithSortThreads proves that a build sorts with SQLite's worker threads
// and small runs, and that the connection gets its page cache back after,
// also when the build failed.
func TestWithSortThreads(t *testing.T) {
	ctx := context.Background()
	d := openTemp(t)
	type sorter struct{ threads, cache int }
	read := func(x sqlx.QueryerContext) sorter {
		t.Helper()
		var s sorter
		if err := sqlx.GetContext(ctx, x, &s.threads, "PRAGMA threads"); err != nil {
			t.Fatal(err)
		}
		if err := sqlx.GetContext(ctx, x, &s.cache, "PRAGMA cache_size"); err != nil {
			t.Fatal(err)
		}
		return s
	}
	err := d.WithWrite(func(w *sqlx.DB) error {
		tx, err := w.BeginTxx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		// Not SQLite's default, so that setting back is told from
		// setting a constant.
		start := 1 // neither 0 nor what a build sets
		if sortThreads == 1 {
			start = 2
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA threads = %d", start)); err != nil {
			return err
		}
		before := read(tx)
		if before.threads != start || before.cache == -sortCacheKiB {
			t.Fatalf("before: %+v; want %d worker threads and the write connection's cache", before, start)
		}
		for _, fail := range []bool{false, true} {
			var during sorter
			err := withSortThreads(ctx, tx, func() error {
				during = read(tx)
				if fail {
					_, err := tx.ExecContext(ctx, "CREATE INDEX files_nothing ON files (no_such_column)")
					return err
				}
				return nil
			})
			if fail != (err != nil) {
				t.Fatalf("failing %v: err %v", fail, err)
			}
			if want := (sorter{sortThreads, -sortCacheKiB}); during != want {
				t.Fatalf("failing %v: during the build %+v; want %+v", fail, during, want)
			}
			if after := read(tx); after != before {
				t.Fatalf("failing %v: after the build %+v; want %+v as before", fail, after, before)
			}
		}
		// A server's sorts leave the connection as it is (SingleThreadedSorts).
		SetSingleThreadedSorts(true)
		defer SetSingleThreadedSorts(false)
		var during sorter
		if err := withSortThreads(ctx, tx, func() error { during = read(tx); return nil }); err != nil {
			t.Fatal(err)
		}
		if during != before {
			t.Fatalf("single-threaded: during the build %+v; want %+v as before", during, before)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
