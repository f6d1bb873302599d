package uow_test

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/uow"
)

// hook records what OnCommit is handed.
type hook struct {
	mu    sync.Mutex
	calls [][]string
}

func (h *hook) fn(tags []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, slices.Clone(tags))
}

func (h *hook) got() [][]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.calls)
}

// events returns the tags of the rows of events after id, read through a
// handle of its own.
func events(t *testing.T, d *db.DB, after int64) [][]string {
	t.Helper()
	var out [][]string
	err := d.WithRead(func(r *sqlx.DB) error {
		es, complete, err := db.EventsAfter(t.Context(), r, after)
		if !complete {
			t.Error("events after the last are incomplete")
		}
		for _, e := range es {
			out = append(out, e.Tags)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func lastEvent(t *testing.T, d *db.DB) int64 {
	t.Helper()
	var id int64
	err := d.WithRead(func(r *sqlx.DB) error {
		var err error
		id, err = db.LastEvent(t.Context(), r)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestDoRecordsTags(t *testing.T) {
	u := newUoW(t)
	var h hook
	u.OnCommit(h.fn)
	start := lastEvent(t, u.DB())
	ctx := t.Context()

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// Files of two machines, and a scan.
	must(u.Do(ctx, "files", func(ctx context.Context, r *uow.Repos) error {
		other := file(label('x'))
		other.Machine = "n"
		if err := r.Files.UpsertMany(ctx, []dto.FileWithHash{file(label('a')), other}); err != nil {
			return err
		}
		_, err := r.Scans.Create(ctx, dto.Scan{Machine: "m", Roots: []string{"/"}, Started: time.Unix(1, 0)})
		return err
	}))
	// Nothing changed: no row, no call.
	must(u.Do(ctx, "nothing", func(ctx context.Context, r *uow.Repos) error {
		var n int
		return r.Tx.GetContext(ctx, &n, "SELECT COUNT(*) FROM files")
	}))
	// Rolled back: no row, no call.
	boom := errors.New("boom")
	if err := u.Do(ctx, "fails", func(ctx context.Context, r *uow.Repos) error {
		if err := insert(ctx, r, label('b')); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("Do = %v; want boom", err)
	}
	// A statement through Tx names its tags itself.
	must(u.Do(ctx, "raw", func(ctx context.Context, r *uow.Repos) error {
		r.Touch(dto.TagFiles, dto.MachineTag("m"))
		_, err := r.Tx.ExecContext(ctx, "UPDATE files SET nlink = 2 WHERE machine = 'm'")
		return err
	}))
	// A statement through Tx that names no tags changed something nobody
	// can tell: the epoch.
	must(u.Do(ctx, "untagged", func(ctx context.Context, r *uow.Repos) error {
		_, err := r.Tx.ExecContext(ctx, "UPDATE files SET nlink = 3 WHERE machine = 'm'")
		return err
	}))
	// One that changed no row records nothing.
	must(u.Do(ctx, "no rows", func(ctx context.Context, r *uow.Repos) error {
		_, err := r.Tx.ExecContext(ctx, "UPDATE files SET nlink = 3 WHERE machine = 'nobody'")
		return err
	}))
	// Reads record nothing.
	must(u.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		_, err := r.Files.Counts(ctx)
		return err
	}))

	want := [][]string{
		{"files", "machine:m", "machine:n", "scans"},
		{"files", "machine:m"},
		{"epoch"},
	}
	if got := h.got(); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("OnCommit calls %q; want %q", got, want)
	}
	if got := events(t, u.DB(), start); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("events rows %q; want %q", got, want)
	}
}

// TestDoRecordsTagsOnceAfterRetry: a transaction retried while busy records
// its tags, and calls OnCommit, once.
func TestDoRecordsTagsOnceAfterRetry(t *testing.T) {
	u := busyUoW(t, 5)
	var h hook
	u.OnCommit(h.fn)
	start := lastEvent(t, u.DB())
	busy := busyError(t, u.DB().Path())
	attempts := 0
	err := u.Do(t.Context(), "retried", func(ctx context.Context, r *uow.Repos) error {
		attempts++
		if err := insert(ctx, r, label('r')); err != nil {
			return err
		}
		if attempts == 1 {
			return busy // as a statement that met another writer would
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if attempts != 2 {
		t.Fatalf("fn ran %d times; want a retry", attempts)
	}
	want := [][]string{{"files", "machine:m"}}
	if got := h.got(); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("OnCommit calls %q; want %q", got, want)
	}
	if got := events(t, u.DB(), start); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("events rows %q; want %q", got, want)
	}
}

// busyError returns the error SQLite gives a writer that finds the catalog
// at path locked.
func busyError(t *testing.T, path string) error {
	t.Helper()
	release := holdWriteLock(t, path)
	defer release()
	x, err := sql.Open(db.DriverName, "file:"+path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	_, err = x.ExecContext(t.Context(), "BEGIN IMMEDIATE")
	if !db.IsBusy(err) {
		t.Fatalf("BEGIN IMMEDIATE while locked = %v; want SQLITE_BUSY", err)
	}
	return err
}

func TestForkSharesOnCommit(t *testing.T) {
	u := newUoW(t)
	f := u.Fork()
	var h hook
	u.OnCommit(h.fn) // set after the fork
	if err := f.Do(t.Context(), "forked", func(ctx context.Context, r *uow.Repos) error { return insert(ctx, r, label('f')) }); err != nil {
		t.Fatal(err)
	}
	if got := h.got(); len(got) != 1 {
		t.Errorf("OnCommit calls %q for a commit of a fork; want one", got)
	}
	if _, ok := u.Metrics().Ops["forked"]; ok {
		t.Error("the fork's transaction counted in the parent's metrics")
	}
	u.OnCommit(nil)
	if err := f.Do(t.Context(), "forked", func(ctx context.Context, r *uow.Repos) error { return insert(ctx, r, label('g')) }); err != nil {
		t.Fatal(err)
	}
	if got := h.got(); len(got) != 1 {
		t.Errorf("OnCommit called after it was removed: %q", got)
	}
}

func TestAnnounce(t *testing.T) {
	u := newUoW(t)
	u.Announce(dto.TagEpoch) // no function: nothing happens
	var h hook
	u.OnCommit(h.fn)
	u.Announce(dto.TagEpoch)
	if got := h.got(); len(got) != 1 || !slices.Equal(got[0], []string{dto.TagEpoch}) {
		t.Errorf("OnCommit calls %q; want [[epoch]]", got)
	}
}
