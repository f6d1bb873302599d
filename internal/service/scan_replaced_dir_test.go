package service

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/indexer/indexer/internal/dto"
)

// TestScanDirectoryReplacedBySymlink: a directory moved elsewhere and
// replaced by a symlink to its new place. Copied (cp -a, new inodes), the
// files catalogued under the old directory are gone: kept, dupes would list
// top/d/x and other/d/x, one file, as two copies, and deleting either loses
// it. Moved (same inodes), they are still there through the link, and stay.
func TestScanDirectoryReplacedBySymlink(t *testing.T) {
	for _, tc := range []struct {
		name    string
		move    bool
		present []string
	}{
		{"copied", false, []string{"other/d/x", "top/y"}},
		{"moved", true, []string{"other/d/x", "top/d/x", "top/y"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			top, other := filepath.Join(dir, "top"), filepath.Join(dir, "other")
			writeFile(t, filepath.Join(top, "d", "x"), []byte("data"))
			writeFile(t, filepath.Join(top, "y"), []byte("y"))
			c := openTestCatalog(t)
			mustScan(t, c, []string{top}, ScanOptions{})

			if tc.move {
				if err := os.Mkdir(other, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(filepath.Join(top, "d"), filepath.Join(other, "d")); err != nil {
					t.Fatal(err)
				}
			} else {
				writeFile(t, filepath.Join(other, "d", "x"), []byte("data"))
				if err := os.RemoveAll(filepath.Join(top, "d")); err != nil {
					t.Fatal(err)
				}
			}
			symlink(t, "../other/d", filepath.Join(top, "d"))
			mustScan(t, c, []string{top, other}, ScanOptions{})

			if got := presentPaths(t, c, dir); !slices.Equal(got, tc.present) {
				t.Fatalf("present %q, want %q", got, tc.present)
			}
			var groups []dto.DupeGroup
			_, err := c.Dupes(context.Background(), DupesOptions{}, func(g dto.DupeGroup) error {
				groups = append(groups, g)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(groups) != 0 {
				t.Fatalf("dupes lists %+v: one file shown as two copies", groups)
			}
		})
	}
}

// TestScanSkippedSymlinkTargetGone: rows found through a symlink named as a
// PATH, when a later scan skips that symlink. A file gone behind a link that
// still leads to its directory is DEL; when the link leads nowhere (its
// target an unmounted disk, say), nothing below it is known gone.
func TestScanSkippedSymlinkTargetGone(t *testing.T) {
	dir := t.TempDir()
	top, ext := filepath.Join(dir, "top"), filepath.Join(dir, "ext")
	writeFile(t, filepath.Join(top, "t"), []byte("t"))
	writeFile(t, filepath.Join(ext, "e"), []byte("e"))
	writeFile(t, filepath.Join(ext, "f"), []byte("f"))
	extlink := filepath.Join(top, "extlink")
	symlink(t, "../ext", extlink)
	c := openTestCatalog(t)
	mustScan(t, c, []string{extlink}, ScanOptions{})

	if err := os.Remove(filepath.Join(ext, "f")); err != nil {
		t.Fatal(err)
	}
	mustScan(t, c, []string{top}, ScanOptions{})
	if got, want := presentPaths(t, c, dir), []string{"top/extlink/e", "top/t"}; !slices.Equal(got, want) {
		t.Fatalf("after removing ext/f: present %q, want %q", got, want)
	}

	if err := os.RemoveAll(ext); err != nil {
		t.Fatal(err)
	}
	mustScan(t, c, []string{top}, ScanOptions{})
	if got, want := presentPaths(t, c, dir), []string{"top/extlink/e", "top/t"}; !slices.Equal(got, want) {
		t.Fatalf("with extlink leading nowhere: present %q, want %q", got, want)
	}
}
