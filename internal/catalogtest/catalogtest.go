// Package catalogtest builds catalogs for tests and benchmarks: an empty one
// in a temporary directory, one that records real files written to disk the
// way a scan would, and a large synthetic one generated straight through the
// repositories.
package catalogtest

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dbtest"
	"github.com/indexer/indexer/internal/digest"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/service"
	"github.com/indexer/indexer/internal/uow"
)

// MustOpen opens a new catalog in tb's temporary directory and closes it when
// the test ends; in dbtest.Main's PostgreSQL pass, a new PostgreSQL database.
func MustOpen(tb testing.TB) *service.Catalog {
	tb.Helper()
	return MustOpenAt(tb, dbtest.Location(tb, filepath.Join(tb.TempDir(), "index.db")))
}

// MustOpenAt opens (creating if needed) the catalog at path and closes it
// when the test ends.
func MustOpenAt(tb testing.TB, path string) *service.Catalog {
	tb.Helper()
	c, err := service.Open(context.Background(), path, db.DefaultOptions(), nil)
	if err != nil {
		tb.Fatalf("open catalog: %v", err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// WriteFiles creates the files of tree (path relative to root → content),
// with their directories.
func WriteFiles(tb testing.TB, root string, tree map[string]string) {
	tb.Helper()
	for rel, content := range tree {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// Record catalogs every regular file under root as machine's, as a scan would
// (until the scan itself exists to do it): it hashes each file with
// internal/digest, takes device, inode and times from stat, and upserts the
// rows as ADD through the unit of work. It returns the rows it wrote.
func Record(tb testing.TB, c *service.Catalog, machine, root string) []dto.FileWithHash {
	tb.Helper()
	var out []dto.FileWithHash
	now := time.Now()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		h, err := digest.Reader(f)
		if err != nil {
			return err
		}
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		out = append(out, dto.FileWithHash{Hash: h, FileMeta: dto.FileMeta{
			Machine: machine, Path: p, Name: filepath.Base(p), Size: fi.Size(),
			Modified: fi.ModTime(), Scanned: now, Operation: dto.OpAdd,
			Validators: dto.Validators{Size: fi.Size(), MtimeNS: fi.ModTime().UnixNano(),
				CtimeNS: st.Ctim.Nano(), Inode: st.Ino, Device: uint64(st.Dev), Nlink: uint64(st.Nlink)},
		}})
		return nil
	})
	if err != nil {
		tb.Fatalf("record %s: %v", root, err)
	}
	Insert(tb, c, out)
	return out
}

// Insert writes files and their contents through the unit of work, in
// chunks, as a scan's writer does. A file's Hash must be filled.
func Insert(tb testing.TB, c *service.Catalog, files []dto.FileWithHash) {
	tb.Helper()
	if err := insert(context.Background(), c.UoW(), files, 200); err != nil {
		tb.Fatalf("insert files: %v", err)
	}
}

// insert writes files in transactions of perTx files; the repositories split
// each into statements of repo.ChunkSize rows.
func insert(ctx context.Context, u *uow.UoW, files []dto.FileWithHash, perTx int) error {
	for start := 0; start < len(files); start += perTx {
		part := files[start:min(start+perTx, len(files))]
		err := u.Do(ctx, "insert", func(ctx context.Context, r *uow.Repos) error {
			return r.Files.UpsertMany(ctx, part)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// MarkDeleted records the files of machine at paths as deleted (operation
// DEL) in a scan of their own, as a rescan that found them gone does.
func MarkDeleted(tb testing.TB, c *service.Catalog, machine string, paths ...string) {
	tb.Helper()
	err := c.UoW().Do(context.Background(), "delete", func(ctx context.Context, r *uow.Repos) error {
		got, err := r.Files.GetByPaths(ctx, machine, paths)
		if err != nil {
			return err
		}
		ids := make([]int64, 0, len(got))
		for _, f := range got {
			ids = append(ids, f.ID)
		}
		if len(ids) != len(paths) {
			tb.Errorf("mark deleted: %d of %d paths are catalogued", len(ids), len(paths))
		}
		now := time.Now()
		sc := dto.Scan{Machine: machine, Roots: []string{filepath.Dir(paths[0])}, Started: now}
		if sc.ID, err = r.Scans.Create(ctx, sc); err != nil {
			return err
		}
		if err := r.Files.MarkDeleted(ctx, machine, ids, sc.ID, now); err != nil {
			return err
		}
		sc.Finished, sc.Status, sc.Deleted = time.Now(), dto.ScanComplete, int64(len(ids))
		return r.Scans.Finish(ctx, sc)
	})
	if err != nil {
		tb.Fatalf("mark deleted: %v", err)
	}
}
