package uow_test

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jmoiron/sqlx"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dbtest"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/uow"
)

// guard bounds a call that would block forever if a transaction or lock
// leaked; it is a deadlock detector, not a timing assertion.
const guard = 30 * time.Second

// file returns the row a label stands for: a plain file named label at
// "/"+label. A label is only a distinct key the tests can look for.
func file(label string) dto.FileWithHash {
	return dto.FileWithHash{FileMeta: dto.FileMeta{Machine: "m", Path: "/" + label, Name: label,
		Size: int64(len(label)), Modified: time.Unix(1, 0), Scanned: time.Unix(1, 0), Operation: dto.OpAdd}}
}

func insert(ctx context.Context, r *uow.Repos, labels ...string) error {
	fs := make([]dto.FileWithHash, len(labels))
	for i, l := range labels {
		fs[i] = file(l)
	}
	return r.Files.UpsertMany(ctx, fs)
}

// present reports whether the row labelled label is in the catalog,
// reading through the read pool.
func present(t *testing.T, u *uow.UoW, label string) bool {
	t.Helper()
	var n int
	err := u.Read(t.Context(), func(ctx context.Context, r *uow.Repos) error {
		return r.Tx.GetContext(ctx, &n, r.Tx.Rebind("SELECT COUNT(*) FROM files WHERE path = ?"), "/"+label)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// label returns a distinct sha256-sized label.
func label(c byte) string { return strings.Repeat(string(c), 64) }

func newUoW(t *testing.T) *uow.UoW {
	t.Helper()
	return uow.New(dbtest.MustOpen(t))
}

func TestDoCommits(t *testing.T) {
	u := newUoW(t)
	l := label('a')
	if err := u.Do(t.Context(), "commit", func(ctx context.Context, r *uow.Repos) error { return insert(ctx, r, l) }); err != nil {
		t.Fatal(err)
	}
	if !present(t, u, l) {
		t.Error("row absent after a committed Do")
	}
	// Committed means on disk: a new handle sees it too.
	d := u.DB()
	var n int
	other := dbtest.MustOpenPath(t, d.Path())
	if err := other.WithRead(func(r *sqlx.DB) error { return r.Get(&n, "SELECT COUNT(*) FROM files") }); err != nil || n != 1 {
		t.Errorf("another handle counts %d files, %v; want 1", n, err)
	}
	m := u.Metrics().Ops["commit"]
	if m.Count != 1 || len(m.Failures) != 0 || m.BusyRetries != 0 {
		t.Errorf("metrics = %+v; want one success", m)
	}
}

func TestDoRollsBackOnError(t *testing.T) {
	u := newUoW(t)
	l := label('b')
	boom := errors.New("boom")
	err := u.Do(t.Context(), "fail", func(ctx context.Context, r *uow.Repos) error {
		if err := insert(ctx, r, l); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Do = %v; want fn's error", err)
	}
	if present(t, u, l) {
		t.Error("row present after fn returned an error")
	}
}

func TestDoRollsBackOnPanic(t *testing.T) {
	u := newUoW(t)
	l := label('c')
	type sentinel struct{}
	func() {
		defer func() {
			if p := recover(); p != (sentinel{}) {
				t.Errorf("recovered %v; want fn's panic value", p)
			}
		}()
		_ = u.Do(t.Context(), "panic", func(ctx context.Context, r *uow.Repos) error {
			if err := insert(ctx, r, l); err != nil {
				return err
			}
			panic(sentinel{})
		})
		t.Error("Do returned; want the panic to propagate")
	}()
	if present(t, u, l) {
		t.Error("row present after fn panicked")
	}

	// The single write connection must be back in the pool, outside any
	// transaction: a leaked one would block this Do until the guard.
	ctx, cancel := context.WithTimeout(t.Context(), guard)
	defer cancel()
	l2 := label('d')
	if err := u.Do(ctx, "after", func(ctx context.Context, r *uow.Repos) error { return insert(ctx, r, l2) }); err != nil {
		t.Fatalf("Do after the panic = %v", err)
	}
	if !present(t, u, l2) || present(t, u, l) {
		t.Error("after the panic, want only the second row")
	}
	// Nor may the panic leave the catalog's pools locked: Close needs them.
	closed := make(chan error)
	go func() { closed <- u.DB().Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close = %v", err)
		}
	case <-time.After(guard):
		t.Fatal("Close blocked: the panic left the pools locked")
	}
}

// TestDoReturnsCommitError makes COMMIT itself fail: with foreign keys on and
// their checks deferred, a dangling reference passes every statement and is
// refused only at COMMIT.
func TestDoReturnsCommitError(t *testing.T) {
	u := newUoW(t)
	const path = "/dangling"
	err := u.Do(t.Context(), "commit-fails", func(ctx context.Context, r *uow.Repos) error {
		var fk int
		if err := r.Tx.GetContext(ctx, &fk, "PRAGMA foreign_keys"); err != nil || fk != 1 {
			t.Errorf("PRAGMA foreign_keys = %d, %v; want 1", fk, err)
		}
		if _, err := r.Tx.ExecContext(ctx, "PRAGMA defer_foreign_keys = ON"); err != nil {
			return err
		}
		// scan_id references scans (id), and no scan 424242 exists.
		return r.Files.UpsertMany(ctx, []dto.FileWithHash{{FileMeta: dto.FileMeta{Machine: "m", Path: path, Name: "dangling", Size: 1,
			Modified: time.Unix(1, 0), Scanned: time.Unix(1, 0), Operation: dto.OpAdd, ScanID: 424242}}})
	})
	if err == nil {
		t.Fatal("Do = nil; want the commit's error")
	}
	if got := db.Code(err); got != sqlite3.SQLITE_CONSTRAINT {
		t.Errorf("Do = %v (code %d); want SQLITE_CONSTRAINT from COMMIT, reachable with errors.As", err, got)
	}

	// The failed COMMIT must not leave the connection inside the transaction.
	ctx, cancel := context.WithTimeout(t.Context(), guard)
	defer cancel()
	l := label('e')
	if err := u.Do(ctx, "after", func(ctx context.Context, r *uow.Repos) error { return insert(ctx, r, l) }); err != nil {
		t.Fatalf("Do after the failed commit = %v", err)
	}
	var n int
	err = u.Read(t.Context(), func(ctx context.Context, r *uow.Repos) error {
		return r.Tx.GetContext(ctx, &n, "SELECT COUNT(*) FROM files WHERE path = ?", path)
	})
	if err != nil || n != 0 {
		t.Errorf("rows of the failed commit: %d, %v; want 0", n, err)
	}
	if !present(t, u, l) {
		t.Error("row absent after the Do that followed the failed commit")
	}
	if got := u.Metrics().Ops["commit-fails"].Failures; !maps.Equal(got, map[string]int64{"constraint": 1}) {
		t.Errorf("failures = %v; want constraint: 1", got)
	}
}

// holdWriteLock takes the catalog's write lock from a separate connection, as
// another process scanning into it would, and returns its release.
func holdWriteLock(t *testing.T, path string) (release func()) {
	t.Helper()
	x, err := sql.Open(db.DriverName, "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	conn, err := x.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	release = sync.OnceFunc(func() {
		if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
			t.Errorf("release write lock: %v", err)
		}
		conn.Close()
	})
	t.Cleanup(release)
	return release
}

func busyUoW(t *testing.T, retries int) *uow.UoW {
	t.Helper()
	opts := db.DefaultOptions()
	opts.BusyTimeout = 50 * time.Millisecond
	opts.BusyRetries = retries
	return uow.New(dbtest.MustOpenOptions(t, filepath.Join(t.TempDir(), "index.db"), opts))
}

func TestDoRetriesWhileBusy(t *testing.T) {
	u := busyUoW(t, 5)
	release := holdWriteLock(t, u.DB().Path())
	// Release the lock once the first attempt has given up: the write
	// connection was taken (BEGIN waiting on the lock) and handed back.
	go func() {
		stats := func() sql.DBStats { return u.DB().Stats().Write }
		for stats().InUse == 0 {
			time.Sleep(time.Millisecond)
		}
		for stats().InUse != 0 {
			time.Sleep(time.Millisecond)
		}
		release()
	}()

	l := label('f')
	calls := 0
	err := u.Do(t.Context(), "busy", func(ctx context.Context, r *uow.Repos) error {
		calls++
		return insert(ctx, r, l)
	})
	if err != nil {
		t.Fatalf("Do = %v; want success once the lock is released", err)
	}
	if !present(t, u, l) {
		t.Error("row absent after the retried Do")
	}
	m := u.Metrics().Ops["busy"]
	if m.BusyRetries < 1 || m.BusyRetries > 5 || m.Count != 1 || len(m.Failures) != 0 {
		t.Errorf("metrics = %+v; want 1 to 5 busy retries, count 1, no failures", m)
	}
	if calls != 1 {
		t.Errorf("fn ran %d times; want once (only BEGIN met the lock)", calls)
	}
}

func TestDoGivesUpWhenBusy(t *testing.T) {
	const retries = 2
	u := busyUoW(t, retries)
	holdWriteLock(t, u.DB().Path())

	err := u.Do(t.Context(), "stuck", func(ctx context.Context, r *uow.Repos) error {
		t.Error("fn ran while another connection held the write lock")
		return nil
	})
	if !db.IsBusy(err) || !uow.IsBusy(err) {
		t.Fatalf("Do = %v; want an error IsBusy recognizes", err)
	}
	want := dto.OpMetrics{Count: 1, BusyRetries: retries, Failures: map[string]int64{"busy": 1}}
	got := u.Metrics().Ops["stuck"]
	if got.Count != want.Count || got.BusyRetries != want.BusyRetries || !maps.Equal(got.Failures, want.Failures) {
		t.Errorf("metrics = %+v; want %+v", got, want)
	}
}

// TestMetricsByKind runs operations that fail in different ways and checks
// that each failure is counted under its kind and operation.
func TestMetricsByKind(t *testing.T) {
	u := newUoW(t)
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	dup := label('g')
	if err := u.Do(t.Context(), "setup", func(ctx context.Context, r *uow.Repos) error { return insert(ctx, r, dup) }); err != nil {
		t.Fatal(err)
	}
	ops := []struct {
		op  string
		ctx context.Context
		fn  func(context.Context, *uow.Repos) error
	}{
		{"ok", t.Context(), func(ctx context.Context, r *uow.Repos) error { return insert(ctx, r, label('h')) }},
		{"ok", t.Context(), func(ctx context.Context, r *uow.Repos) error { return nil }},
		{"mixed", t.Context(), func(ctx context.Context, r *uow.Repos) error { return errors.New("plain") }},
		{"mixed", t.Context(), func(ctx context.Context, r *uow.Repos) error {
			// The same (machine, path, archive_path) again: a UNIQUE violation.
			_, err := r.Tx.ExecContext(ctx, `INSERT INTO files (machine, path, name, size, modified_sec, scanned, operation)
				VALUES ('m', ?, 'dup', 1, 1, 1, 'ADD')`, "/"+dup)
			return err
		}},
		{"mixed", t.Context(), func(ctx context.Context, r *uow.Repos) error {
			_, err := r.Tx.ExecContext(ctx, "SELECT * FROM no_such_table")
			return err
		}},
		{"mixed", t.Context(), func(ctx context.Context, r *uow.Repos) error { return nil }},
		{"canceled", canceled, func(ctx context.Context, r *uow.Repos) error { return nil }},
	}
	for _, o := range ops {
		_ = u.Do(o.ctx, o.op, o.fn)
	}
	want := map[string]dto.OpMetrics{
		"setup":    {Count: 1},
		"ok":       {Count: 2},
		"mixed":    {Count: 4, Failures: map[string]int64{"other": 1, "constraint": 1, "sqlite": 1}},
		"canceled": {Count: 1, Failures: map[string]int64{"canceled": 1}},
	}
	got := u.Metrics()
	if len(got.Ops) != len(want) {
		t.Errorf("ops = %v; want %d of them", got.Ops, len(want))
	}
	for op, w := range want {
		g := got.Ops[op]
		if g.Count != w.Count || !maps.Equal(g.Failures, w.Failures) || g.BusyRetries != 0 {
			t.Errorf("%s: metrics = %+v; want %+v", op, g, w)
		}
		if g.SlowestMS > g.TotalMS || g.SlowestMS < 0 {
			t.Errorf("%s: slowest %.3f ms, total %.3f ms; want 0 <= slowest <= total", op, g.SlowestMS, g.TotalMS)
		}
	}

	// Metrics hands out a copy.
	got.Ops["mixed"].Failures["other"] = 99
	if n := u.Metrics().Ops["mixed"].Failures["other"]; n != 1 {
		t.Errorf("changing a returned copy changed the metrics: other = %d", n)
	}
}

func TestReadIsReadOnly(t *testing.T) {
	u := newUoW(t)
	err := u.Read(t.Context(), func(ctx context.Context, r *uow.Repos) error { return insert(ctx, r, label('i')) })
	if dbtest.OnPostgres() {
		// read_only_sql_transaction
		if pe := (*pgconn.PgError)(nil); !errors.As(err, &pe) || pe.Code != "25006" {
			t.Errorf("write inside Read = %v; want a read-only transaction's error (25006)", err)
		}
		return
	}
	if got := db.Code(err); got != sqlite3.SQLITE_READONLY {
		t.Errorf("write inside Read = %v (code %d); want SQLITE_READONLY", err, got)
	}
}

// TestReadSnapshot checks that every query inside one Read sees the same
// snapshot, even when a write commits in between.
func TestReadSnapshot(t *testing.T) {
	u := newUoW(t)
	count := func(ctx context.Context, x sqlx.QueryerContext) int {
		var n int
		if err := sqlx.GetContext(ctx, x, &n, "SELECT COUNT(*) FROM files"); err != nil {
			t.Fatal(err)
		}
		return n
	}
	var first, second int
	err := u.Read(t.Context(), func(ctx context.Context, r *uow.Repos) error {
		first = count(ctx, r.Tx)
		if err := u.Do(ctx, "concurrent", func(ctx context.Context, w *uow.Repos) error { return insert(ctx, w, label('j')) }); err != nil {
			return err
		}
		second = count(ctx, r.Tx)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if first != 0 || second != 0 {
		t.Errorf("counts inside one Read = %d, %d; want 0, 0 (one snapshot)", first, second)
	}
	if !present(t, u, label('j')) {
		t.Error("a later Read does not see the committed row")
	}
}
