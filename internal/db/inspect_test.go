package db_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dbtest"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/uow"
)

// filledCatalog writes a closed catalog of n files and contents at path.
// Everything in it is fixed, so its page layout is the same on every run.
func filledCatalog(t *testing.T, path string, n int) {
	t.Helper()
	d, err := db.Open(t.Context(), path, db.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	err = uow.New(d).Do(t.Context(), "fill", func(ctx context.Context, r *uow.Repos) error {
		var hs []dto.FileHash
		var fs []dto.FileMeta
		for i := range n {
			sum := fmt.Sprintf("%064x", i)
			hs = append(hs, dto.FileHash{Size: int64(i), MD5: sum[:32], SHA1: sum[:40], SHA256: sum})
			fs = append(fs, dto.FileMeta{Machine: "m", Path: fmt.Sprintf("/data/dir-%02d/file-%05d", i%50, i), Name: fmt.Sprintf("file-%05d", i),
				Size: int64(i), Modified: time.Unix(int64(i), 0), Scanned: time.Unix(1e9, 0), Operation: dto.OpAdd})
		}
		ids, err := r.Hashes.FindOrCreateMany(ctx, hs)
		if err != nil {
			return err
		}
		for i := range fs {
			fs[i].HashID = ids[hs[i].SHA256]
		}
		return r.Files.UpsertMany(ctx, fs)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestCheckSoundCatalog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	filledCatalog(t, path, 500)
	d := dbtest.MustOpenPath(t, path)
	for _, full := range []bool{false, true} {
		if problems, err := d.Check(t.Context(), full); err != nil || problems != nil {
			t.Errorf("Check(full=%v) = %q, %v; want nil, nil", full, problems, err)
		}
	}
	if n, err := d.ForeignKeyViolations(t.Context()); err != nil || n != 0 {
		t.Errorf("ForeignKeyViolations() = %d, %v; want 0", n, err)
	}
}

// TestCheckReportsEachProblem damages cell pointers in the middle of a
// catalog: the checks must find it, and report one problem per element,
// without SQLite's "*** in database main ***" heading or embedded newlines.
func TestCheckReportsEachProblem(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	filledCatalog(t, path, 3000)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	mid := len(b) / 2 / 4096 * 4096
	copy(b[mid+8:], []byte{0xff, 0xff, 0xff, 0xff}) // the first cell pointers of a b-tree page
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}

	opts := db.DefaultOptions()
	opts.MustExist = true
	d := dbtest.MustOpenOptions(t, path, opts)
	for _, full := range []bool{false, true} {
		problems, err := d.Check(t.Context(), full)
		if err != nil || len(problems) == 0 {
			t.Errorf("Check(full=%v) = %q, %v; want the problems found", full, problems, err)
		}
		for _, p := range problems {
			if strings.HasPrefix(p, "***") || strings.Contains(p, "\n") || p == "" {
				t.Errorf("Check(full=%v) problem %q; want one plain message", full, p)
			}
		}
	}
}
