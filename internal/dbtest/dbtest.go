package dbtest

import (
	"context"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/indexer/indexer/internal/db"
)

// MustOpen opens a new catalog in a fresh temporary directory with
// db.DefaultOptions and closes it when the test ends. It fails the test if the
// catalog cannot be opened.
func MustOpen(tb testing.TB) *db.DB {
	tb.Helper()
	return MustOpenPath(tb, filepath.Join(tb.TempDir(), "index.db"))
}

// MustOpenPath opens (creating if needed) the catalog at path with
// db.DefaultOptions and closes it when the test ends.
func MustOpenPath(tb testing.TB, path string) *db.DB {
	tb.Helper()
	return MustOpenOptions(tb, path, db.DefaultOptions())
}

// MustOpenOptions opens the catalog at path with opts and closes it when the
// test ends. A Close error fails the test: it means a connection leaked.
func MustOpenOptions(tb testing.TB, path string, opts db.Options) *db.DB {
	tb.Helper()
	d, err := db.Open(context.Background(), path, opts)
	if err != nil {
		tb.Fatalf("open catalog %s: %v", path, err)
	}
	tb.Cleanup(func() {
		if err := d.Close(); err != nil {
			tb.Errorf("close catalog %s: %v", path, err)
		}
	})
	return d
}

// ListTree returns every path under root, relative to it ("." for root): tests
// use it to prove that an operation created or left nothing.
func ListTree(tb testing.TB, root string) []string {
	tb.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out = append(out, rel)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}
