package db_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/indexer/indexer/internal/db"
)

// clearUmask sets the process umask to 0 for the test, so that a mode the
// code asks for is the mode the file gets: a umask of 077 would make a file
// created 0644 look private. It must not run in parallel with other tests.
func clearUmask(t *testing.T) {
	t.Helper()
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })
}

func assertModes(t *testing.T, want map[string]fs.FileMode) {
	t.Helper()
	for p, w := range want {
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if got := fi.Mode().Perm(); got != w {
			t.Errorf("%s has mode %04o, want %04o", p, got, w)
		}
	}
}

// TestNewCatalogIsPrivate: a new catalog's directories are 0700, and the
// catalog, its -wal, -shm and lock files 0600, whatever the umask.
func TestNewCatalogIsPrivate(t *testing.T) {
	clearUmask(t)
	root := t.TempDir()
	path := filepath.Join(root, "a", "b", "index.db")
	d, err := db.Open(context.Background(), path, db.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// The files exist while the catalog is open: WAL mode keeps -wal and -shm.
	assertModes(t, map[string]fs.FileMode{
		filepath.Join(root, "a"):      0o700,
		filepath.Join(root, "a", "b"): 0o700,
		path:                          0o600,
		path + "-wal":                 0o600,
		path + "-shm":                 0o600,
		path + ".lock":                0o600,
	})
}

// TestExistingCatalogKeepsItsMode: a catalog someone made group-readable
// keeps its mode, and the files created beside it take it, so that whoever may
// read the catalog may also open its log and lock.
func TestExistingCatalogKeepsItsMode(t *testing.T) {
	clearUmask(t)
	path := filepath.Join(t.TempDir(), "index.db")
	d, err := db.Open(context.Background(), path, db.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	for _, side := range []string{"-wal", "-shm", ".lock"} {
		if err := os.Remove(path + side); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	d, err = db.Open(context.Background(), path, db.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	assertModes(t, map[string]fs.FileMode{
		path:           0o640,
		path + "-wal":  0o640,
		path + "-shm":  0o640,
		path + ".lock": 0o640,
	})
}

// TestReplaceFileCreatesPrivateDirectory: restoring to a catalog path whose
// directory does not exist creates it 0700.
func TestReplaceFileCreatesPrivateDirectory(t *testing.T) {
	clearUmask(t)
	root := t.TempDir()
	path := filepath.Join(root, "new", "index.db")
	d, err := db.ReplaceFile(context.Background(), path, db.DefaultOptions(), false, func(string) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	assertModes(t, map[string]fs.FileMode{
		filepath.Join(root, "new"): 0o700,
		path:                       0o600,
		path + ".lock":             0o600,
	})
}
