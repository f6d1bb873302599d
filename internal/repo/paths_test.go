package repo_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/dbtest"
	"github.com/indexer/indexer/internal/dto"
)

// oddNames are file names a catalog must keep byte for byte. Each is a real
// file name on Linux: anything but '/' and NUL, at most 255 bytes.
var oddNames = []string{
	"latin1 caf\xe9",               // not UTF-8
	"bad\xff\xfebytes",             // not UTF-8 at all
	"\xc3",                         // a truncated UTF-8 sequence
	"new\nline",                    // newline
	"tab\tcr\rend",                 // other control characters
	strings.Repeat("x", 255),       // the longest name
	strings.Repeat("é", 127) + "y", // 255 bytes of multi-byte UTF-8
	`quote'"back\slash`,            // SQL and JSON quoting
	"pct%under_star*q?[br]",        // LIKE and glob metacharacters
	" leading and trailing ",       // spaces
	"e\u0301 vs \u00e9",            // decomposed and composed: not to be normalized
}

// TestOddPathsRoundTrip stores real files with odd names and checks that every
// read path gives the exact bytes back, good enough to stat the file again.
func TestOddPathsRoundTrip(t *testing.T) {
	d := dbtest.MustOpen(t)
	root := filepath.Join(t.TempDir(), "odd \xff dir")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range oddNames {
		if len(n) > 255 {
			t.Fatalf("test name %q is %d bytes", n, len(n))
		}
		if err := os.WriteFile(filepath.Join(root, n), []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Catalogue what the directory says, as a scan would.
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var fs []dto.FileMeta
	var paths []string
	for _, e := range entries {
		p := filepath.Join(root, e.Name())
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		fs = append(fs, dto.FileMeta{Machine: "m", Path: p, Name: e.Name(), Size: fi.Size(),
			Modified: fi.ModTime(), Scanned: time.Now(), Operation: dto.OpAdd,
			Validators: dto.Validators{Size: fi.Size(), MtimeNS: fi.ModTime().UnixNano(), Inode: st.Ino, Device: st.Dev, Nlink: uint64(st.Nlink)}})
		paths = append(paths, p)
	}
	// An archive entry whose inner path is odd too.
	entry := fs[0]
	entry.ArchivePath = "inner/" + oddNames[1]
	upsert(t, d, append(fs, entry))

	want := slices.Sorted(slices.Values(oddNames))
	byPath := getByPaths(t, d, "m", paths)
	var gotNames []string
	for _, p := range paths {
		f, ok := byPath[p]
		if !ok {
			t.Errorf("GetByPaths lost %q", p)
			continue
		}
		gotNames = append(gotNames, f.Name)
		if f.Path != p || filepath.Base(f.Path) != f.Name {
			t.Errorf("GetByPaths: path %q, name %q; want %q", f.Path, f.Name, p)
		}
		b, err := os.ReadFile(f.Path)
		if err != nil || string(b) != f.Name {
			t.Errorf("reading the stored path %q: %q, %v", f.Path, b, err)
		}
	}
	slices.Sort(gotNames)
	if !slices.Equal(gotNames, want) {
		t.Errorf("names = %q; want %q", gotNames, want)
	}

	var under []string
	onPool(t, d, func(ctx context.Context, r repos) error {
		return r.files.EachUnder(ctx, "m", root, func(m dto.FileMeta) error {
			if m.ArchivePath != "" {
				if m.ArchivePath != entry.ArchivePath {
					t.Errorf("EachUnder: archive path %q; want %q", m.ArchivePath, entry.ArchivePath)
				}
				return nil
			}
			under = append(under, m.Name)
			return nil
		})
	})
	slices.Sort(under)
	if !slices.Equal(under, want) {
		t.Errorf("EachUnder(%q) names = %q; want %q", root, under, want)
	}
}

// TestOddScanRootsRoundTrip checks the scans table too: its roots are paths.
func TestOddScanRootsRoundTrip(t *testing.T) {
	d := dbtest.MustOpen(t)
	var roots []string
	for _, n := range oddNames {
		roots = append(roots, "/mnt/"+n)
	}
	tests := [][]string{roots, {"/plain", "/mnt/caf\xe9"}, {"/"}, nil}
	for _, want := range tests {
		var got dto.Scan
		onPool(t, d, func(ctx context.Context, r repos) error {
			id, err := r.scans.Create(ctx, dto.Scan{Machine: "m", Roots: want, Started: time.Now()})
			if err != nil {
				return err
			}
			got, err = r.scans.Get(ctx, id)
			return err
		})
		if !slices.Equal(got.Roots, want) {
			t.Errorf("roots = %q; want %q", got.Roots, want)
		}
	}
	// Valid UTF-8 roots stay a plain JSON array of strings.
	if n := count(t, d, `SELECT COUNT(*) FROM scans WHERE roots = '["/plain",{"base64":"L21udC9jYWbp"}]'`); n != 1 {
		t.Errorf("%d scans with the expected roots JSON; want 1", n)
	}
}
