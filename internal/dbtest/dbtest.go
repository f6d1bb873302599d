package dbtest

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/uow"
)

// MustOpen opens a new catalog in a fresh temporary directory with
// db.DefaultOptions and closes it when the test ends. It fails the test if the
// catalog cannot be opened. In Main's PostgreSQL pass the catalog is a new
// PostgreSQL database instead (see Location).
func MustOpen(tb testing.TB) *db.DB {
	tb.Helper()
	return MustOpenPath(tb, Location(tb, filepath.Join(tb.TempDir(), "index.db")))
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

// Fill writes one present file row per path for machine "m", file i with its
// own content (size i, digests derived from i), in one transaction. Every
// value is fixed, so the file's page layout is the same on every run.
func Fill(tb testing.TB, d *db.DB, paths []string) {
	tb.Helper()
	err := uow.New(d).Do(tb.Context(), "fill", func(ctx context.Context, r *uow.Repos) error {
		fs := make([]dto.FileWithHash, len(paths))
		for i, p := range paths {
			sum := fmt.Sprintf("%064x", i)
			fs[i] = dto.FileWithHash{
				Hash: dto.FileHash{Size: int64(i), MD5: sum[:32], SHA1: sum[:40], SHA256: sum},
				FileMeta: dto.FileMeta{Machine: "m", Path: p, Name: filepath.Base(p), Size: int64(i),
					Modified: time.Unix(int64(i), 0), Scanned: time.Unix(1e9, 0), Operation: dto.OpAdd}}
		}
		return r.Files.UpsertMany(ctx, fs)
	})
	if err != nil {
		tb.Fatal(err)
	}
}
