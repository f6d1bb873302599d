package notify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dbtest"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/service"
	"github.com/indexer/indexer/internal/uow"
)

// guard bounds waits that would hang if a report were lost; it is a
// deadlock detector, not a timing assertion.
const guard = 30 * time.Second

const (
	helperEnv = "INDEXER_NOTIFY_TEST_HELPER" // "restore"
	catEnv    = "INDEXER_NOTIFY_TEST_CATALOG"
	srcEnv    = "INDEXER_NOTIFY_TEST_SOURCE"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "restore" {
		// As `indexer restore --yes` does.
		ctx := context.Background()
		plan, err := service.PlanRestore(ctx, os.Getenv(catEnv), os.Getenv(srcEnv), db.DefaultOptions(), service.RestoreOptions{}, nil)
		if err == nil {
			_, err = plan.Run(ctx)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// file is a row of machine at path.
func file(machine, path string) dto.FileWithHash {
	return dto.FileWithHash{FileMeta: dto.FileMeta{Machine: machine, Path: path, Name: filepath.Base(path),
		Size: 1, Modified: time.Unix(1, 0), Scanned: time.Unix(1, 0), Operation: dto.OpAdd}}
}

// write commits files of machine at paths through u.
func write(t *testing.T, u *uow.UoW, machine string, paths ...string) {
	t.Helper()
	err := u.Do(context.Background(), "write", func(ctx context.Context, r *uow.Repos) error {
		var fs []dto.FileWithHash
		for _, p := range paths {
			fs = append(fs, file(machine, p))
		}
		return r.Files.UpsertMany(ctx, fs)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// idle returns a Watcher that never looks by itself: the test calls look.
func idle(t *testing.T, path string) *Watcher {
	t.Helper()
	w, err := Watch(t.Context(), path, Options{Interval: time.Hour}, func([]string) { t.Error("an idle watcher reported") })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func mustLook(t *testing.T, w *Watcher) []string {
	t.Helper()
	tags, err := w.look(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tags
}

func wantTags(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("reported %q; want %q", got, want)
	}
}

// TestLookHearsAnotherHandle: writes through a second, independent handle
// on the same file are heard with their tags, several at once as their
// union; a look with nothing new reports nothing.
func TestLookHearsAnotherHandle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	dbtest.MustOpenPath(t, path)
	w := idle(t, path)
	wantTags(t, mustLook(t, w))

	other := uow.New(dbtest.MustOpenPath(t, path))
	write(t, other, "a", "/x")
	wantTags(t, mustLook(t, w), "files", "machine:a")
	wantTags(t, mustLook(t, w))

	write(t, other, "b", "/y")
	write(t, other, "c", "/z")
	wantTags(t, mustLook(t, w), "files", "machine:b", "machine:c")

	// Reads and checkpoints change nothing.
	err := other.DB().WithWrite(func(x *sqlx.DB) error {
		_, err := x.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.DB().Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	wantTags(t, mustLook(t, w))
}

// TestLookPrunedIsEpoch: when the rows after the last one read were pruned,
// what changed cannot be told.
func TestLookPrunedIsEpoch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	d := dbtest.MustOpenPath(t, path)
	w := idle(t, path)
	err := d.WithWrite(func(x *sqlx.DB) error {
		for range db.EventsKept + 128 {
			tx, err := x.Beginx()
			if err != nil {
				return err
			}
			if _, err := db.RecordEvent(t.Context(), tx, []string{"files"}); err != nil {
				tx.Rollback()
				return err
			}
			if err := tx.Commit(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantTags(t, mustLook(t, w), dto.TagEpoch)
	// From there on it follows again.
	write(t, uow.New(d), "a", "/x")
	wantTags(t, mustLook(t, w), "files", "machine:a")
}

// TestWatchHearsWithinTwoLooks runs the Watcher's own loop: a write is
// reported by the first or second look after it commits (one may have been
// under way), so within two intervals.
func TestWatchHearsWithinTwoLooks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	dbtest.MustOpenPath(t, path)
	type report struct {
		tags  []string
		polls int64
	}
	reports := make(chan report, 100)
	var self atomic.Pointer[Watcher]
	w, err := Watch(t.Context(), path, Options{Interval: 50 * time.Millisecond}, func(tags []string) {
		reports <- report{tags, self.Load().Polls()}
	})
	if err != nil {
		t.Fatal(err)
	}
	self.Store(w)
	defer w.Close()

	other := uow.New(dbtest.MustOpenPath(t, path))
	for i := range 5 {
		machine := fmt.Sprint("m", i)
		write(t, other, machine, "/f")
		committed := w.Polls()
		select {
		case r := <-reports:
			wantTags(t, r.tags, "files", dto.MachineTag(machine))
			if r.polls-committed > 2 {
				t.Errorf("write %d heard %d looks after its commit; want at most 2", i, r.polls-committed)
			}
		case <-time.After(guard):
			t.Fatalf("write %d never reported", i)
		}
	}
}

// TestRestoreInAnotherProcess: a Watcher does not keep `indexer restore` in
// another process from replacing the catalog, reports the epoch once it has,
// and, closing its connection to the replaced file, leaves the new file's
// -wal alone: rows committed to it and still in its log stay readable.
func TestRestoreInAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "index.db")
	ctx := context.Background()
	c, err := service.Open(ctx, path, db.DefaultOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	write(t, c.UoW(), "a", "/backed-up")
	b, err := c.Backup(ctx, filepath.Join(dir, "backup.db"), false)
	if err != nil {
		t.Fatal(err)
	}
	write(t, c.UoW(), "a", "/after-backup")
	if err := c.Close(); err != nil { // this process holds no lock of indexer's now
		t.Fatal(err)
	}

	w := idle(t, path)
	before, err := statID(path)
	if err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=restore", catEnv+"="+path, srcEnv+"="+b.Path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("restore in another process while watched: %v: %s", err, out)
	}
	if after, err := statID(path); err != nil || after == before {
		t.Fatalf("the restore left the catalog's inode as it was (%v, %v)", after, err)
	}

	// A writer on the restored file, its rows only in the -wal for now.
	d := dbtest.MustOpenPath(t, path)
	write(t, uow.New(d), "a", "/after-restore")

	// Only now does the Watcher look, and close its connection to the file
	// the restore replaced.
	wantTags(t, mustLook(t, w), dto.TagEpoch)
	w.Close() // and whatever the Watcher still held of the old file is gone

	x, err := sql.Open(db.DriverName, "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	var paths []string
	rows, err := x.Query("SELECT path FROM files ORDER BY path")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"/after-restore", "/backed-up"}; !slices.Equal(paths, want) {
		t.Errorf("a new connection reads %q from the restored catalog; want %q", paths, want)
	}
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
		t.Errorf("the restored catalog's -wal: %v, %v; want it kept, with the writer's rows", fi, err)
	}
}

// TestLookReplacedFileIsEpoch: a file moved over the catalog, as restore
// does, is an epoch, and writes to it are heard afterwards.
func TestLookReplacedFileIsEpoch(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "index.db")
	d := dbtest.MustOpenPath(t, path)
	w := idle(t, path)
	other := filepath.Join(dir, "other.db")
	o, err := db.Open(t.Context(), other, db.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	write(t, uow.New(o), "z", "/z")
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other, path); err != nil {
		t.Fatal(err)
	}
	wantTags(t, mustLook(t, w), dto.TagEpoch)
	wantTags(t, mustLook(t, w))
	write(t, uow.New(dbtest.MustOpenPath(t, path)), "y", "/y")
	wantTags(t, mustLook(t, w), "files", "machine:y")
}

// reports collects what a Watcher hands its function.
type reports struct {
	mu   sync.Mutex
	tags []string
}

func (r *reports) fn(tags []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tags = append(r.tags, tags...)
}

func (r *reports) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.tags
	r.tags = nil
	slices.Sort(out)
	return slices.Compact(out)
}

// TestSyncReportsBeforeReturning: a write committed by another handle is
// handed to fn by the time Sync returns, with no poll of the loop (its
// interval is an hour); concurrent Syncs share looks and all return after
// the write was reported; after Close, Sync refuses.
func TestSyncReportsBeforeReturning(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	dbtest.MustOpenPath(t, path)
	var r reports
	w, err := Watch(t.Context(), path, Options{Interval: time.Hour}, r.fn)
	if err != nil {
		t.Fatal(err)
	}
	other := uow.New(dbtest.MustOpenPath(t, path))
	write(t, other, "a", "/x")
	if err := w.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	wantTags(t, r.take(), "files", "machine:a")
	if err := w.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	wantTags(t, r.take())

	write(t, other, "b", "/y")
	var wg sync.WaitGroup
	seen := make([]bool, 32)
	for i := range seen {
		wg.Go(func() {
			if err := w.Sync(t.Context()); err != nil {
				t.Error(err)
			}
			r.mu.Lock()
			seen[i] = slices.Contains(r.tags, "machine:b")
			r.mu.Unlock()
		})
	}
	wg.Wait()
	for i, ok := range seen {
		if !ok {
			t.Errorf("Sync %d returned before machine:b was reported", i)
		}
	}
	if w.Polls() != 0 {
		t.Errorf("the loop looked %d times; the test wants Sync's looks only", w.Polls())
	}
	w.Close()
	if err := w.Sync(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("Sync after Close = %v; want ErrClosed", err)
	}
}
