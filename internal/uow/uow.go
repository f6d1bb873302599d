package uow

import (
	"context"

	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/repo"
)

// Repos are the repositories bound to one transaction.
type Repos struct {
	Files   *repo.Files
	Scans   *repo.Scans
	Indexes *repo.Indexes
	Dirs    *repo.Dirs
	// Changes is the change log; Verifications the last verification of each file.
	Changes       *repo.Changes
	Verifications *repo.Verifications
	// Volumes are the volumes recorded relative to themselves, and the file
	// system of each scan's roots.
	Volumes *repo.Volumes
	// tx is the transaction itself, for what no repository does (savepoints).
	tx *sqlx.Tx

	touched *repo.Touched
}

func newRepos(tx *sqlx.Tx) *Repos {
	t := &repo.Touched{}
	return &Repos{Files: repo.NewFiles(tx).Touching(t), Scans: repo.NewScans(tx).Touching(t),
		Indexes: repo.NewIndexes(tx).Touching(t), Dirs: repo.NewDirs(tx).Touching(t),
		Changes: repo.NewChanges(tx).Touching(t), Verifications: repo.NewVerifications(tx).Touching(t),
		Volumes: repo.NewVolumes(tx).Touching(t), tx: tx, touched: t}
}

// Touch records tags (see dto.TagFiles and its kin) as changed by this
// transaction, for a write no repository method made. Repository methods
// record their own.
func (r *Repos) Touch(tags ...string) { r.touched.Add(tags...) }

// Savepoint runs fn inside a savepoint of the transaction: when fn returns an
// error, what fn wrote is rolled back and the transaction goes on as before
// fn, and fn's error is returned. PostgreSQL otherwise aborts the whole
// transaction at its first failed statement; SQLite would keep the part of
// fn that ran before the failure. Savepoints do not nest under one name:
// call Savepoint again only after it returned.
func (r *Repos) Savepoint(ctx context.Context, fn func() error) error {
	if _, err := r.tx.ExecContext(ctx, "SAVEPOINT unit"); err != nil {
		return fmt.Errorf("open savepoint: %w", err)
	}
	if err := fn(); err != nil {
		if _, rerr := r.tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT unit"); rerr != nil {
			return fmt.Errorf("roll back to savepoint after %w: %w", err, rerr)
		}
		if _, rerr := r.tx.ExecContext(ctx, "RELEASE SAVEPOINT unit"); rerr != nil {
			return fmt.Errorf("release savepoint after %w: %w", err, rerr)
		}
		return err
	}
	if _, err := r.tx.ExecContext(ctx, "RELEASE SAVEPOINT unit"); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}
	return nil
}

// UoW runs units of work against a catalog and keeps their metrics.
type UoW struct {
	db      *db.DB
	retries int
	// backoff is the first retry's pause; it doubles, with jitter, each time.
	backoff time.Duration

	mu      sync.Mutex
	metrics map[string]*dto.OpMetrics

	// onCommit is shared with the units of work forked from this one.
	onCommit *atomic.Pointer[func(tags []string)]
}

// New returns a UoW over d, retrying busy transactions d.Options().BusyRetries times.
func New(d *db.DB) *UoW {
	return &UoW{db: d, retries: d.Options().BusyRetries, backoff: 50 * time.Millisecond, metrics: map[string]*dto.OpMetrics{},
		onCommit: &atomic.Pointer[func(tags []string)]{}}
}

// Fork returns a unit of work on the same catalog with metrics of its own
// (a scan keeps its own), sharing u's OnCommit function: one set on either,
// before or after the fork, is called for the commits of both.
func (u *UoW) Fork() *UoW {
	f := New(u.db)
	f.retries, f.backoff, f.onCommit = u.retries, u.backoff, u.onCommit
	return f
}

// OnCommit sets fn to be called, in the committing goroutine, after each
// write transaction that changed rows commits, with the tags it touched
// (sorted); nil removes it. A server sets it to invalidate its cache at once:
// the same tags are recorded in the catalog's events table in the
// transaction itself, for other processes. fn must not block for long.
func (u *UoW) OnCommit(fn func(tags []string)) {
	if fn == nil {
		u.onCommit.Store(nil)
		return
	}
	u.onCommit.Store(&fn)
}

// Announce hands tags to the OnCommit function, if one is set: for a change
// to the catalog that is no transaction of Do, such as a restore replacing
// the file (dto.TagEpoch).
func (u *UoW) Announce(tags ...string) {
	if fn := u.onCommit.Load(); fn != nil && len(tags) > 0 {
		(*fn)(tags)
	}
}

// DB returns the catalog the unit of work runs on.
func (u *UoW) DB() *db.DB { return u.db }

// Do runs fn in one write transaction and commits it. If fn returns an error or
// panics, the transaction is rolled back and the error (or panic) passed on.
// The commit's error is returned. The tags the repositories touched in fn are
// written in the transaction, last, as one row of the events table, and
// after the commit handed to the OnCommit function. When the catalog is busy (SQLITE_BUSY or
// SQLITE_LOCKED, after SQLite's own busy timeout; on PostgreSQL a
// serialization failure or a deadlock: db.Dialect.Retryable) the whole of fn is run again,
// up to the configured number of retries, so fn must not have effects outside
// the transaction that cannot be repeated. op names the operation in metrics.
func (u *UoW) Do(ctx context.Context, op string, fn func(context.Context, *Repos) error) error {
	start := time.Now()
	var err error
	var tags []string
	retries := 0
	for attempt := 0; ; attempt++ {
		err = u.db.WithWrite(func(w *sqlx.DB) error {
			var err error
			tags, err = runTx(ctx, w, nil, fn)
			return err
		})
		if err == nil || !u.db.Dialect().Retryable(err) || attempt >= u.retries || ctx.Err() != nil {
			break
		}
		retries++
		pause := u.backoff << attempt
		pause += time.Duration(rand.Int64N(int64(pause)))
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
	}
	u.record(op, time.Since(start), retries, err)
	if err == nil {
		u.Announce(tags...)
	}
	return err
}

// Read runs fn in a read transaction on the read pool: every query in fn sees
// the same snapshot. Repositories handed to fn must not write.
func (u *UoW) Read(ctx context.Context, fn func(context.Context, *Repos) error) error {
	return u.db.WithRead(func(r *sqlx.DB) error {
		_, err := runTx(ctx, r, u.db.Dialect().ReadTx(), func(ctx context.Context, rs *Repos) error {
			rs.Files.ReadingRaw(u.db)
			return fn(ctx, rs)
		})
		return err
	})
}

// runTx runs fn in a transaction and commits it. A write transaction (opts
// nil) records the tags fn touched in the events table before the commit,
// and returns them.
func runTx(ctx context.Context, x *sqlx.DB, opts *txOptions, fn func(context.Context, *Repos) error) (tags []string, err error) {
	tx, err := x.BeginTxx(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("begin transaction: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var before int64
	if opts == nil {
		if before, err = totalChanges(ctx, tx); err != nil {
			return nil, err
		}
	}
	r := newRepos(tx)
	if err = fn(ctx, r); err != nil {
		return nil, err
	}
	if opts == nil {
		tags = r.touched.Tags()
		if len(tags) == 0 {
			// Rows changed by a write that named no tags: nobody can
			// tell what changed, so everything did. (A repository method
			// that forgets its tags costs caches their answers, never
			// their freshness.)
			after, err := totalChanges(ctx, tx)
			if err != nil {
				return nil, err
			}
			if after != before {
				tags = []string{dto.TagEpoch}
			}
		}
		if len(tags) > 0 {
			if _, err = db.RecordEvent(ctx, tx, tags); err != nil {
				return nil, err
			}
		}
	}
	if err = tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return tags, nil
}

// totalChanges returns a count that moves when the transaction writes: on
// SQLite the rows its connection has changed since it opened; on
// PostgreSQL 1 once the transaction has a transaction id, which it takes at
// its first write, and 0 before.
func totalChanges(ctx context.Context, tx *sqlx.Tx) (int64, error) {
	q := "SELECT total_changes()"
	if db.DialectOf(tx).Shared {
		q = "SELECT CASE WHEN pg_current_xact_id_if_assigned() IS NULL THEN 0 ELSE 1 END"
	}
	var n int64
	if err := tx.GetContext(ctx, &n, q); err != nil {
		return 0, fmt.Errorf("count changed rows: %w", err)
	}
	return n, nil
}

func (u *UoW) record(op string, d time.Duration, retries int, err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	m := u.metrics[op]
	if m == nil {
		m = &dto.OpMetrics{}
		u.metrics[op] = m
	}
	m.Count++
	m.BusyRetries += int64(retries)
	ms := float64(d.Microseconds()) / 1000
	m.TotalMS += ms
	m.SlowestMS = max(m.SlowestMS, ms)
	if err != nil {
		if m.Failures == nil {
			m.Failures = map[string]int64{}
		}
		m.Failures[db.Kind(err)]++
	}
}

// Metrics returns a copy of the figures gathered so far.
func (u *UoW) Metrics() dto.TxMetrics {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := dto.TxMetrics{Ops: make(map[string]dto.OpMetrics, len(u.metrics))}
	for k, v := range u.metrics {
		c := *v
		if v.Failures != nil {
			c.Failures = make(map[string]int64, len(v.Failures))
			for fk, fv := range v.Failures {
				c.Failures[fk] = fv
			}
		}
		out.Ops[k] = c
	}
	return out
}

// IsBusy reports whether err means the catalog stayed locked by someone else.
func IsBusy(err error) bool { return db.IsBusy(err) }
