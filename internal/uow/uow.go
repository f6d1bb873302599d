package uow

import (
	"context"

	"fmt"
	"math/rand/v2"
	"sync"
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
	// Changes is the change log; Verifications the last verification of each file.
	Changes       *repo.Changes
	Verifications *repo.Verifications
	// Tx is the transaction itself, for the rare statement no repository has.
	Tx *sqlx.Tx
}

func newRepos(tx *sqlx.Tx) *Repos {
	return &Repos{Files: repo.NewFiles(tx), Scans: repo.NewScans(tx), Indexes: repo.NewIndexes(tx),
		Changes: repo.NewChanges(tx), Verifications: repo.NewVerifications(tx), Tx: tx}
}

// UoW runs units of work against a catalog and keeps their metrics.
type UoW struct {
	db      *db.DB
	retries int
	// backoff is the first retry's pause; it doubles, with jitter, each time.
	backoff time.Duration

	mu      sync.Mutex
	metrics map[string]*dto.OpMetrics
}

// New returns a UoW over d, retrying busy transactions d.Options().BusyRetries times.
func New(d *db.DB) *UoW {
	return &UoW{db: d, retries: d.Options().BusyRetries, backoff: 50 * time.Millisecond, metrics: map[string]*dto.OpMetrics{}}
}

// DB returns the catalog the unit of work runs on.
func (u *UoW) DB() *db.DB { return u.db }

// Do runs fn in one write transaction and commits it. If fn returns an error or
// panics, the transaction is rolled back and the error (or panic) passed on.
// The commit's error is returned. When the catalog is busy (SQLITE_BUSY or
// SQLITE_LOCKED, after SQLite's own busy timeout) the whole of fn is run again,
// up to the configured number of retries, so fn must not have effects outside
// the transaction that cannot be repeated. op names the operation in metrics.
func (u *UoW) Do(ctx context.Context, op string, fn func(context.Context, *Repos) error) error {
	start := time.Now()
	var err error
	retries := 0
	for attempt := 0; ; attempt++ {
		err = u.db.WithWrite(func(w *sqlx.DB) error { return runTx(ctx, w, nil, fn) })
		if err == nil || !db.IsBusy(err) || attempt >= u.retries || ctx.Err() != nil {
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
	return err
}

// Read runs fn in a read transaction on the read pool: every query in fn sees
// the same snapshot. Repositories handed to fn must not write.
func (u *UoW) Read(ctx context.Context, fn func(context.Context, *Repos) error) error {
	return u.db.WithRead(func(r *sqlx.DB) error {
		return runTx(ctx, r, &sqlReadOnly, fn)
	})
}

func runTx(ctx context.Context, x *sqlx.DB, opts *txOptions, fn func(context.Context, *Repos) error) (err error) {
	tx, err := x.BeginTxx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
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
	if err = fn(ctx, newRepos(tx)); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
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
