package db_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dbtest"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/service"
	"github.com/indexer/indexer/internal/uow"
)

// catalogWith writes a closed catalog at path whose files table holds one
// row per label: a file named label at "/"+label.
func catalogWith(t *testing.T, path string, labels ...string) {
	t.Helper()
	d, err := db.Open(t.Context(), path, db.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	insertLabels(t, uow.New(d), labels...)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}

func insertLabels(t *testing.T, u *uow.UoW, labels ...string) {
	t.Helper()
	fs := make([]dto.FileWithHash, len(labels))
	for i, l := range labels {
		fs[i] = dto.FileWithHash{FileMeta: dto.FileMeta{Machine: "m", Path: "/" + l, Name: l, Size: 1,
			Modified: time.Unix(1, 0), Scanned: time.Unix(1, 0), Operation: dto.OpAdd}}
	}
	err := u.Do(t.Context(), "test", func(ctx context.Context, r *uow.Repos) error {
		return r.Files.UpsertMany(ctx, fs)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// labels returns the files' names, read through the unit of work's read side.
func labels(ctx context.Context, u *uow.UoW) ([]string, error) {
	var out []string
	err := u.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		return r.Files.Find(ctx, dto.FindFilter{MaxSize: -1, Deleted: true, IncludeArchived: true}, func(f dto.FileWithHash) error {
			out = append(out, f.Name)
			return nil
		})
	})
	slices.Sort(out)
	return out, err
}

// moveInto returns a swap that renames src over the catalog.
func moveInto(src string) func(string) error {
	return func(dst string) error { return os.Rename(src, dst) }
}

// TestReplaceHoldersSeeNewFile is the restore scenario: a unit of work and a
// service.Catalog made before Replace keep working after it, on the new file,
// and nothing of the old file (its rows, its WAL) survives.
func TestReplaceHoldersSeeNewFile(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	path, repl := filepath.Join(dir, "index.db"), filepath.Join(dir, "restore.db")
	catalogWith(t, repl, "new-1", "new-2")

	d := dbtest.MustOpenPath(t, path)
	u := uow.New(d)
	cat := service.New(d, nil)
	// The old rows sit in the WAL, not yet in the file, when Replace runs.
	insertLabels(t, u, "old-1", "old-2", "old-3")
	if got, err := labels(ctx, cat.UoW()); err != nil || len(got) != 3 {
		t.Fatalf("before Replace: %v, %v; want the 3 old rows", got, err)
	}

	if err := d.Replace(ctx, false, moveInto(repl)); err != nil {
		t.Fatalf("Replace: %v", err)
	}

	want := []string{"new-1", "new-2"}
	for name, h := range map[string]*uow.UoW{"uow": u, "service.Catalog": cat.UoW()} {
		if got, err := labels(ctx, h); err != nil || !slices.Equal(got, want) {
			t.Errorf("%s after Replace reads %v, %v; want %v", name, got, err, want)
		}
	}
	var viaWrite int
	if err := d.WithWrite(func(w *sqlx.DB) error { return w.Get(&viaWrite, "SELECT COUNT(*) FROM files") }); err != nil || viaWrite != 2 {
		t.Errorf("write pool after Replace counts %d files, %v; want 2", viaWrite, err)
	}
	if got := d.Stats().Reopens; got != 1 {
		t.Errorf("Stats().Reopens = %d; want 1", got)
	}
	if problems, err := d.Check(ctx, true); err != nil || len(problems) > 0 {
		t.Errorf("integrity after Replace: %v, %v", problems, err)
	}

	// A holder's writes land in the new file and outlive the handle.
	insertLabels(t, u, "after")
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d2 := dbtest.MustOpenPath(t, path)
	if got, err := labels(ctx, uow.New(d2)); err != nil || !slices.Equal(got, []string{"after", "new-1", "new-2"}) {
		t.Errorf("reopened after Replace: %v, %v; want [after new-1 new-2]", got, err)
	}
}

// TestReplaceUnderConcurrentReaders runs readers through Replace: none may
// fail on a closed pool, and once one has seen the new file it never sees the
// old one again.
func TestReplaceUnderConcurrentReaders(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	path, repl := filepath.Join(dir, "index.db"), filepath.Join(dir, "restore.db")
	catalogWith(t, repl, "new")
	d := dbtest.MustOpenPath(t, path)
	u := uow.New(d)
	insertLabels(t, u, "old")

	const readers = 4
	var started, wg sync.WaitGroup
	started.Add(readers)
	replaced := make(chan struct{})
	errs := make(chan error, readers)
	for range readers {
		wg.Go(func() {
			markStarted := sync.OnceFunc(started.Done)
			defer markStarted() // even on an early error, or Replace is never run
			sawNew := false
			for after := 0; after < 20; {
				got, err := labels(ctx, u)
				if err != nil {
					errs <- err
					return
				}
				switch {
				case slices.Equal(got, []string{"new"}):
					sawNew = true
				case slices.Equal(got, []string{"old"}) && sawNew:
					errs <- errors.New("read the old file after the new one")
					return
				case !slices.Equal(got, []string{"old"}):
					errs <- errors.New("read neither file: " + strings.Join(got, " "))
					return
				}
				markStarted()
				select {
				case <-replaced:
					after++
				default:
				}
			}
			if !sawNew {
				errs <- errors.New("never saw the new file")
			}
		})
	}
	started.Wait()
	if err := d.Replace(ctx, false, moveInto(repl)); err != nil {
		t.Fatalf("Replace: %v", err)
	}
	close(replaced)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestReplaceRefusedWhileInUse(t *testing.T) {
	t.Run("another handle in this process", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "index.db")
		d := dbtest.MustOpenPath(t, path)
		other, err := db.Open(t.Context(), path, db.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		checkReplaceRefused(t, d)

		// Once the other handle is gone, the same call goes through.
		if err := other.Close(); err != nil {
			t.Fatal(err)
		}
		called := false
		if err := d.Replace(t.Context(), false, func(string) error { called = true; return nil }); err != nil || !called {
			t.Errorf("Replace after the other handle closed = %v (swap called %v); want nil, true", err, called)
		}
	})

	t.Run("another process", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "index.db")
		d := dbtest.MustOpenPath(t, path)
		holdInChild(t, path)
		checkReplaceRefused(t, d)
	})

	t.Run("wait until the other handle closes", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "index.db")
		d := dbtest.MustOpenPath(t, path)
		other, err := db.Open(t.Context(), path, db.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		var otherClosed sync.WaitGroup
		otherClosed.Go(func() {
			time.Sleep(100 * time.Millisecond)
			other.Close()
		})
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		err = d.Replace(ctx, true, func(string) error { return nil })
		otherClosed.Wait()
		if err != nil {
			t.Errorf("Replace(wait) = %v; want nil once the other handle closed", err)
		}
	})

	t.Run("wait ends with the context", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "index.db")
		d := dbtest.MustOpenPath(t, path)
		dbtest.MustOpenPath(t, path)
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		err := d.Replace(ctx, true, func(string) error { t.Error("swap called"); return nil })
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Replace(wait) = %v; want DeadlineExceeded", err)
		}
		if _, err := d.Version(t.Context()); err != nil {
			t.Errorf("catalog after the refused Replace: %v", err)
		}
	})
}

// checkReplaceRefused checks that Replace without waiting answers ErrInUse,
// leaves the file alone and keeps d usable.
func checkReplaceRefused(t *testing.T, d *db.DB) {
	t.Helper()
	u := uow.New(d)
	insertLabels(t, u, "kept")
	err := d.Replace(t.Context(), false, func(string) error {
		t.Error("swap called while another holder has the catalog open")
		return nil
	})
	if !errors.Is(err, db.ErrInUse) {
		t.Errorf("Replace = %v; want ErrInUse", err)
	}
	if got, err := labels(t.Context(), u); err != nil || !slices.Equal(got, []string{"kept"}) {
		t.Errorf("after the refused Replace: %v, %v; want [kept]", got, err)
	}
	insertLabels(t, u, "more")
	if got := d.Stats().Reopens; got != 0 {
		t.Errorf("Stats().Reopens = %d; want 0", got)
	}
}

// TestReplaceSwapFailsKeepsCatalog checks that a failing swap leaves the
// catalog open on whatever is in place and passes the swap's error on.
func TestReplaceSwapFailsKeepsCatalog(t *testing.T) {
	d := dbtest.MustOpen(t)
	u := uow.New(d)
	insertLabels(t, u, "kept")
	boom := errors.New("disk on fire")
	if err := d.Replace(t.Context(), false, func(string) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("Replace = %v; want the swap's error", err)
	}
	if got, err := labels(t.Context(), u); err != nil || !slices.Equal(got, []string{"kept"}) {
		t.Errorf("after the failed swap: %v, %v; want [kept]", got, err)
	}
}

// TestReplaceWithBadFileReleasesLock swaps in a file that is not a database:
// the catalog cannot be reopened, so d is closed, and closing it must release
// the inter-process lock, or no later Replace (a second restore attempt, from
// this process or another) could ever run.
func TestReplaceWithBadFileReleasesLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	d, err := db.Open(t.Context(), path, db.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	err = d.Replace(t.Context(), false, func(p string) error {
		return os.WriteFile(p, []byte("garbage, not a database, garbage, not a database"), 0o644)
	})
	if !errors.Is(err, db.ErrNotDatabase) {
		t.Errorf("Replace with a bad file = %v; want ErrNotDatabase", err)
	}
	if err := d.WithRead(func(*sqlx.DB) error { return nil }); !errors.Is(err, db.ErrClosed) {
		t.Errorf("WithRead after the failed reopen = %v; want ErrClosed", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}

	// A second restore: put a good catalog back through a new handle.
	good := filepath.Join(t.TempDir(), "good.db")
	catalogWith(t, good, "restored")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	d2 := dbtest.MustOpenPath(t, path)
	if err := d2.Replace(t.Context(), false, moveInto(good)); err != nil {
		t.Fatalf("second Replace = %v; want nil (the failed handle must not keep the lock)", err)
	}
	if got, err := labels(t.Context(), uow.New(d2)); err != nil || !slices.Equal(got, []string{"restored"}) {
		t.Errorf("after the second Replace: %v, %v; want [restored]", got, err)
	}
}

// TestReplaceWaitKeepsSharedLock checks that a handle waiting in Replace for
// others to let go still holds the catalog meanwhile: a waiter that lost its
// shared lock (as flock loses it when a conversion to exclusive fails) would
// let another handle swap the file under its open pools.
func TestReplaceWaitKeepsSharedLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	waiter := dbtest.MustOpenPath(t, path)
	other := dbtest.MustOpenPath(t, path)
	third, err := db.Open(t.Context(), path, db.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- waiter.Replace(ctx, true, func(string) error { return nil }) }()
	time.Sleep(150 * time.Millisecond) // let the waiter fail a few attempts: an ordering, not an assertion
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}

	err = third.Replace(t.Context(), false, func(string) error {
		t.Error("swap ran while another handle was waiting with open pools")
		return nil
	})
	if !errors.Is(err, db.ErrInUse) {
		t.Errorf("Replace beside a waiting Replace = %v; want ErrInUse", err)
	}
	if err := third.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("waiting Replace = %v; want nil once the others closed", err)
	}
}
