package db_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dbtest"
)

// filledCatalog writes a closed catalog of n files and contents at path.
// Everything in it is fixed, so its page layout is the same on every run.
func filledCatalog(t *testing.T, path string, n int) {
	t.Helper()
	d, err := db.Open(t.Context(), path, db.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	paths := make([]string, n)
	for i := range paths {
		paths[i] = fmt.Sprintf("/data/dir-%02d/file-%05d", i%50, i)
	}
	dbtest.Fill(t, d, paths)
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

// leafPage returns the offset of the first b-tree leaf page (table or index)
// at or after offset from, in a file of 4096-byte pages.
func leafPage(t *testing.T, b []byte, from int) int {
	t.Helper()
	for off := max(from/4096, 1) * 4096; off+4096 <= len(b); off += 4096 {
		if b[off] == 0x0d || b[off] == 0x0a {
			return off
		}
	}
	t.Fatal("no leaf page")
	return 0
}

// TestCheckFindsDamage damages catalogs in several ways. The checks must find
// it, either as problems, one plain message each (without SQLite's "*** in
// database main ***" heading or embedded newlines), or, where the damage
// stops the check itself, as an error IsCorrupt recognizes; which of the two
// SQLite gives for a damaged b-tree page varies from run to run.
func TestCheckFindsDamage(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, b []byte)
		want   []string // exact problems, when the damage yields them reliably
	}{
		{"freelist size in the header", func(t *testing.T, b []byte) {
			copy(b[36:], []byte{0, 0, 0, 3}) // three free pages, and no list of them
		}, []string{"Freelist: size is 0 but should be 3"}},
		{"cell pointers of a leaf page", func(t *testing.T, b []byte) {
			leaf := leafPage(t, b, len(b)/2)
			copy(b[leaf+8:], []byte{0xff, 0xff, 0xff, 0xff}) // its first two cell pointers
		}, nil},
		{"pages of garbage", func(t *testing.T, b []byte) {
			mid := len(b) / 2 / 4096 * 4096
			for i := mid; i < mid+3*4096; i++ {
				b[i] = byte(i*7) ^ 0x5a
			}
		}, nil},
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	filledCatalog(t, good, 1000)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := os.ReadFile(good)
			if err != nil {
				t.Fatal(err)
			}
			tt.damage(t, b)
			path := filepath.Join(dir, fmt.Sprintf("bad%d.db", i))
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			opts := db.DefaultOptions()
			opts.MustExist = true
			d := dbtest.MustOpenOptions(t, path, opts)
			for _, full := range []bool{false, true} {
				problems, err := d.Check(t.Context(), full)
				switch {
				case tt.want != nil:
					if err != nil || !slices.Equal(problems, tt.want) {
						t.Errorf("Check(full=%v) = %q, %v; want %q", full, problems, err, tt.want)
					}
				case err != nil && !db.IsCorrupt(err):
					t.Errorf("Check(full=%v) = %v; want problems or a corruption error", full, err)
				case err == nil && len(problems) == 0:
					t.Errorf("Check(full=%v) found nothing wrong", full)
				}
				for _, p := range problems {
					if strings.HasPrefix(p, "***") || strings.Contains(p, "\n") || p == "" {
						t.Errorf("Check(full=%v) problem %q; want one plain message", full, p)
					}
				}
			}
		})
	}
}
