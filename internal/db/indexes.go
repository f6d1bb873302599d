package db

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync/atomic"

	"github.com/jmoiron/sqlx"
)

// A table's secondary indexes cost a B-tree insert each per new row, most of
// them at random places. A scan that adds many rows sets them aside, adds the
// rows into the bare table, and builds each index again once, by one sorted
// pass, when it ends: several times cheaper than keeping them up to date. The
// statements that build them are kept in deferred_indexes, in the same
// transaction as the drop, so an index set aside is never forgotten: if the
// scan dies first, the next one builds it. Queries are correct without the
// indexes, only slower. Indexes that enforce a constraint (UNIQUE, PRIMARY
// KEY) have no statement of their own in sqlite_master and are never set aside.

// DeferIndexes drops the secondary indexes of table, except those named in
// keep, recording how to build each in deferred_indexes, and returns how many
// it dropped. Run it in a write transaction.
//
// On a shared catalog (PostgreSQL) it sets nothing aside and returns 0:
// other machines write the same table at the same time, and would pay for
// one scan's gain (see Dialect.MayDeferIndexes).
func DeferIndexes(ctx context.Context, x sqlx.ExtContext, table string, keep ...string) (int, error) {
	if !DialectOf(x).MayDeferIndexes() {
		return 0, nil
	}
	var idx []struct {
		Name string `db:"name"`
		SQL  string `db:"sql"`
	}
	err := sqlx.SelectContext(ctx, x, &idx, `SELECT name, sql FROM sqlite_master
		WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY name`, table)
	if err != nil {
		return 0, fmt.Errorf("list indexes of %s: %w", table, err)
	}
	n := 0
	for _, i := range idx {
		if slices.Contains(keep, i.Name) {
			continue
		}
		n++
		if _, err := x.ExecContext(ctx, "INSERT INTO deferred_indexes (name, sql) VALUES (?, ?)", i.Name, i.SQL); err != nil {
			return 0, fmt.Errorf("set index %s aside: %w", i.Name, err)
		}
		if _, err := x.ExecContext(ctx, `DROP INDEX "`+i.Name+`"`); err != nil {
			return 0, fmt.Errorf("set index %s aside: %w", i.Name, err)
		}
	}
	if table == "files" {
		if err := deferSummary(ctx, x); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// BuildDeferredIndex builds the index name that DeferIndexes set aside and
// forgets its statement. An index that exists already (another scan, or a
// migration, made it) is only forgotten; one not set aside is left alone.
// Run it in a write transaction.
func BuildDeferredIndex(ctx context.Context, x sqlx.ExtContext, name string) error {
	if !DialectOf(x).MayDeferIndexes() {
		return nil
	}
	var stmt []string
	if err := sqlx.SelectContext(ctx, x, &stmt, "SELECT sql FROM deferred_indexes WHERE name = ?", name); err != nil {
		return fmt.Errorf("build index %s: %w", name, err)
	}
	if len(stmt) == 0 {
		return nil
	}
	var exists int
	if err := sqlx.GetContext(ctx, x, &exists, "SELECT COUNT(*) FROM sqlite_master WHERE type IN ('index', 'trigger') AND name = ?", name); err != nil {
		return fmt.Errorf("build index %s: %w", name, err)
	}
	if exists == 0 {
		err := withSortThreads(ctx, x, func() error {
			_, err := x.ExecContext(ctx, stmt[0])
			return err
		})
		if err != nil {
			return fmt.Errorf("build index %s: %w", name, err)
		}
	}
	if _, err := x.ExecContext(ctx, "DELETE FROM deferred_indexes WHERE name = ?", name); err != nil {
		return fmt.Errorf("build index %s: %w", name, err)
	}
	return nil
}

// sortThreads and sortCacheKiB set SQLite's sorter for the sorts of every
// row of a table that building an index (or the summary's GROUP BYs) makes.
// The sorter fills a run as large as the page cache, sorts it, writes it out
// and merges the runs at the end; with worker threads, each full run is
// sorted and written by a worker while the statement reads on. With the
// write connection's 16 MiB cache and no worker, one thread does all of it.
// Measured on a 1,000,000-row catalog on 2 cores, building its six indexes
// took 8.8-12.4 s with one thread and 16 MiB runs, and 6.7-8.3 s with 2
// workers and 2 MiB runs (smaller runs are sorted within the CPU's caches;
// 128 MiB took longer than 16).
var (
	sortThreads  = min(runtime.GOMAXPROCS(0), 8) // SQLite's SQLITE_MAX_WORKER_THREADS
	sortCacheKiB = 2048
	// singleThreaded is set by SingleThreadedSorts.
	singleThreaded atomic.Bool
)

// SingleThreadedSorts makes every later sort of this process (index builds,
// the summary's rebuild, listings too large to hold) run on its statement's
// own thread, with the connection's usual page cache, as before worker
// threads were used. A process that lives long calls it (serve): each
// worker thread leaves 216 bytes behind in modernc's libc, whose
// pthread_create frees none, about one a MiB sorted, so that a server
// listing the duplicates of a catalog of 10,000,000 rows anew after each
// write would grow by some 100 KB a listing. A command's process ends
// before they count.
func SingleThreadedSorts() { singleThreaded.Store(true) }

// sorterThreads returns the worker threads a sort is given: 0 after
// SingleThreadedSorts.
func sorterThreads() int {
	if singleThreaded.Load() {
		return 0
	}
	return sortThreads
}

// withSortThreads runs fn, a statement that sorts a whole table, in the
// write transaction x with the sorter set as above, and sets the
// connection's worker threads and page cache back after, whatever fn
// returned. Both are the connection's settings, not the transaction's, so
// x's context must not end before x does (a scan builds its indexes with
// context.WithoutCancel): had database/sql rolled x back on its own, they
// could not be set back through it, and the connection would keep them
// (slower, never wrong) until it is closed.
//
// Each worker leaves a 216-byte record behind in modernc's libc, whose
// pthread_create frees none: one a run, 54 for an index of 400,000 rows.
func withSortThreads(ctx context.Context, x sqlx.ExtContext, fn func() error) (err error) {
	if sorterThreads() == 0 {
		return fn() // SingleThreadedSorts: the connection as it is
	}
	var threads, cache int
	if err := sqlx.GetContext(ctx, x, &threads, "PRAGMA threads"); err != nil {
		return fmt.Errorf("read the sorter's threads: %w", err)
	}
	if err := sqlx.GetContext(ctx, x, &cache, "PRAGMA cache_size"); err != nil {
		return fmt.Errorf("read the page cache size: %w", err)
	}
	defer func() {
		_, rerr := x.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf("PRAGMA threads = %d; PRAGMA cache_size = %d", threads, cache))
		if rerr == nil {
			return
		}
		if ctx.Err() != nil { // why x is over, more than what it says of it
			rerr = fmt.Errorf("%w: %w", ctx.Err(), rerr)
		}
		rerr = fmt.Errorf("set the sorter back: %w", rerr)
		if err == nil {
			err = rerr
		} else { // both: the second says that the connection kept the settings
			err = fmt.Errorf("%w; %w", err, rerr)
		}
	}()
	if _, err := x.ExecContext(ctx, fmt.Sprintf("PRAGMA threads = %d; PRAGMA cache_size = -%d", sorterThreads(), sortCacheKiB)); err != nil {
		return fmt.Errorf("set the sorter: %w", err)
	}
	return fn()
}

// buildAllDeferred builds every index set aside, in the caller's transaction.
func buildAllDeferred(ctx context.Context, x sqlx.ExtContext) error {
	names, err := DeferredIndexes(ctx, x)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := BuildDeferredIndex(ctx, x, n); err != nil {
			return err
		}
	}
	return nil
}

// DeferredIndexes returns the names of the indexes set aside and not yet
// built, the summary (see deferSummary) last: its rebuild reads files_content.
func DeferredIndexes(ctx context.Context, x sqlx.QueryerContext) ([]string, error) {
	var names []string
	if err := sqlx.SelectContext(ctx, x, &names, "SELECT name FROM deferred_indexes ORDER BY name = '"+summaryEntry+"', name"); err != nil {
		return nil, fmt.Errorf("list deferred indexes: %w", err)
	}
	return names, nil
}
