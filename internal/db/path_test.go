package db_test

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/jmoiron/sqlx"
	"golang.org/x/sys/unix"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dbtest"
)

// TestOpenRefusesNonRegularFiles points the catalog path, directly and
// through a symlink, at a FIFO, a socket, a character device and a
// directory: Open, with and without MustExist, and ReplaceFile refuse with
// one sentence naming what is there, before creating anything (not even the
// lock file) or running swap, and the node is left as it was.
func TestOpenRefusesNonRegularFiles(t *testing.T) {
	kinds := []struct {
		name, kind string
		make       func(t *testing.T, p string)
	}{
		{"FIFO", "a FIFO", func(t *testing.T, p string) {
			if err := unix.Mkfifo(p, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"socket", "a socket", func(t *testing.T, p string) {
			l, err := net.Listen("unix", p)
			if err != nil {
				t.Skipf("cannot make a socket here: %v", err)
			}
			t.Cleanup(func() { l.Close() })
		}},
		{"character device", "a character device", func(t *testing.T, p string) {
			// The null device's numbers: a copy of it reads as empty.
			if err := unix.Mknod(p, unix.S_IFCHR|0o644, int(unix.Mkdev(1, 3))); err != nil {
				t.Skipf("cannot make a device here (%v); the other kinds cover the rule", err)
			}
		}},
		{"directory", "a directory", func(t *testing.T, p string) {
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			dir := t.TempDir()
			node := filepath.Join(dir, "index.db")
			k.make(t, node)
			link := filepath.Join(dir, "link.db")
			if err := os.Symlink("index.db", link); err != nil {
				t.Fatal(err)
			}
			before := dbtest.ListTree(t, dir)
			mode := lstatMode(t, node)
			for _, p := range []string{node, link} {
				for _, mustExist := range []bool{false, true} {
					opts := db.DefaultOptions()
					opts.MustExist = mustExist
					d, err := db.Open(t.Context(), p, opts)
					if err == nil {
						d.Close()
						t.Fatalf("Open(%s, MustExist=%v) succeeded on %s", p, mustExist, k.kind)
					}
					checkNotRegular(t, err, k.kind)
				}
				d, err := db.ReplaceFile(t.Context(), p, db.DefaultOptions(), false, func(string) error {
					t.Errorf("ReplaceFile ran swap over %s", k.kind)
					return nil
				})
				if err == nil {
					d.Close()
					t.Fatalf("ReplaceFile(%s) succeeded on %s", p, k.kind)
				}
				checkNotRegular(t, err, k.kind)
			}
			if after := dbtest.ListTree(t, dir); !slices.Equal(after, before) {
				t.Errorf("the directory changed: before %v, after %v", before, after)
			}
			if got := lstatMode(t, node); got != mode {
				t.Errorf("%s is now %v, was %v", node, got, mode)
			}
		})
	}
}

func checkNotRegular(t *testing.T, err error, kind string) {
	t.Helper()
	if !strings.Contains(err.Error(), "is "+kind+", not a regular file") || strings.Contains(err.Error(), "\n") {
		t.Errorf("error %q should say in one line that the catalog path is %s, not a regular file", err, kind)
	}
}

func lstatMode(t *testing.T, p string) os.FileMode {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()
}

// TestOpenThroughSymlinks opens a catalog through a link to the file and
// through a link to its directory: both name the file they lead to, and
// share its one lock file, so that ReplaceFile through one name is refused
// while a handle through the other holds the catalog. A link to a file that
// does not exist yet creates that file and stays a link.
func TestOpenThroughSymlinks(t *testing.T) {
	ctx := context.Background()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(data, "index.db")
	fileLink := filepath.Join(dir, "link.db")
	dirLink := filepath.Join(dir, "dl")
	for _, l := range []struct{ target, name string }{{"data/index.db", fileLink}, {"data", dirLink}} {
		if err := os.Symlink(l.target, l.name); err != nil {
			t.Fatal(err)
		}
	}

	d, err := db.Open(ctx, fileLink, db.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Path() != real {
		t.Errorf("Path() = %s through %s; want %s", d.Path(), fileLink, real)
	}
	if lstatMode(t, fileLink)&os.ModeSymlink == 0 {
		t.Errorf("%s is no longer a symlink", fileLink)
	}
	if _, err := os.Lstat(real + ".lock"); err != nil {
		t.Errorf("no lock file beside the real catalog: %v", err)
	}
	if _, err := os.Lstat(fileLink + ".lock"); err == nil {
		t.Errorf("a lock file was made beside the link %s", fileLink)
	}

	_, err = db.ReplaceFile(ctx, filepath.Join(dirLink, "index.db"), db.DefaultOptions(), false, func(string) error {
		t.Error("ReplaceFile ran swap while a handle through another name held the catalog")
		return nil
	})
	if !errors.Is(err, db.ErrInUse) {
		t.Errorf("ReplaceFile through %s while %s is open = %v; want ErrInUse", dirLink, fileLink, err)
	}

	dangling := filepath.Join(dir, "new.db")
	if err := os.Symlink("data/new.db", dangling); err != nil {
		t.Fatal(err)
	}
	d2 := dbtest.MustOpenPath(t, dangling)
	if want := filepath.Join(data, "new.db"); d2.Path() != want {
		t.Errorf("Path() = %s through a link to a missing file; want %s", d2.Path(), want)
	}
	if lstatMode(t, dangling)&os.ModeSymlink == 0 {
		t.Errorf("%s is no longer a symlink", dangling)
	}
}

// roMount bind-mounts dir over itself read-only until the test ends, or
// skips the test where mounting is not allowed.
func roMount(t *testing.T, dir string) {
	t.Helper()
	if out, err := exec.Command("mount", "--bind", dir, dir).CombinedOutput(); err != nil {
		t.Skipf("cannot bind-mount here (%v: %s)", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	if out, err := exec.Command("mount", "-o", "remount,bind,ro", dir).CombinedOutput(); err != nil {
		t.Fatalf("remount read-only: %v: %s", err, out)
	}
}

// TestOpenReadOnlyFileSystem opens a catalog on a read-only mount with no
// lock file beside it. A reader (OnlyReads) gets it read-only: its rows, no
// lock file, no write pool, the file's journal mode. A writer is refused
// with the cause, a read-only file system, and so is ReplaceFile.
func TestOpenReadOnlyFileSystem(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "index.db")
	d, err := db.Open(ctx, path, db.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	dbtest.Fill(t, d, []string{"/a", "/b"})
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path + ".lock"); err != nil {
		t.Fatal(err)
	}
	roMount(t, dir)
	before := dbtest.ListTree(t, dir)

	opts := db.DefaultOptions()
	opts.MustExist, opts.OnlyReads = true, true
	r, err := db.Open(ctx, path, opts)
	if err != nil {
		t.Fatalf("Open(OnlyReads) on a read-only file system: %v", err)
	}
	var n int
	if err := r.WithRead(func(x *sqlx.DB) error { return x.Get(&n, "SELECT COUNT(*) FROM files") }); err != nil || n != 2 {
		t.Errorf("read %d files, %v; want 2", n, err)
	}
	if !r.ReadOnly() {
		t.Error("ReadOnly() = false")
	}
	if err := r.WithWrite(func(*sqlx.DB) error { return nil }); !errors.Is(err, db.ErrReadOnly) {
		t.Errorf("WithWrite = %v; want ErrReadOnly", err)
	}
	if mode, err := r.JournalMode(ctx); mode != "wal" || err != nil {
		t.Errorf("JournalMode = %q, %v; want wal", mode, err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	for _, o := range []db.Options{db.DefaultOptions(), {MustExist: true}} {
		if w, err := db.Open(ctx, path, o); !errors.Is(err, syscall.EROFS) {
			if err == nil {
				w.Close()
			}
			t.Errorf("Open(%+v) for writing = %v; want a read-only file system", o, err)
		}
	}
	_, err = db.ReplaceFile(ctx, path, db.DefaultOptions(), false, func(string) error {
		t.Error("ReplaceFile ran swap on a read-only file system")
		return nil
	})
	if !errors.Is(err, syscall.EROFS) {
		t.Errorf("ReplaceFile = %v; want a read-only file system", err)
	}
	if after := dbtest.ListTree(t, dir); !slices.Equal(after, before) {
		t.Errorf("the directory changed: before %v, after %v", before, after)
	}
}
