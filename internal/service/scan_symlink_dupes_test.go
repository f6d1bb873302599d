package service

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/walk"
)

// TestFollowedFileSymlinkIsNotACopy proves that with FollowSymlinks a file and
// a symlink to it, two paths of one inode, are one copy to dupes: deleting
// "the duplicate" would delete the only data.
func TestFollowedFileSymlinkIsNotACopy(t *testing.T) {
	root := t.TempDir()
	data := randomBytes(7, 4096)
	writeFile(t, filepath.Join(root, "a", "photo.jpg"), data)
	if err := os.Symlink(filepath.Join(root, "a", "photo.jpg"), filepath.Join(root, "alias.jpg")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, "b", "real-copy.jpg"), data)
	c := openTestCatalog(t)
	ctx := context.Background()
	if _, err := c.Scan(ctx, []string{root}, ScanOptions{Machine: "m", FollowSymlinks: true}); err != nil {
		t.Fatal(err)
	}
	var got []dto.DupeGroup
	if _, err := c.Dupes(ctx, DupesOptions{}, func(g dto.DupeGroup) error {
		got = append(got, g)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// alias.jpg is a second name of a/photo.jpg: it is skipped, so the
	// group is the two real copies.
	if len(got) != 1 || got[0].Count != 2 || got[0].Reclaimable != 4096 {
		t.Fatalf("dupes = %+v; want one group of the 2 real copies with 4096 reclaimable bytes", got)
	}
}

// TestFollowedFileSymlinkBelowSymlinkedRoot is issue 23's `-L` case: the root
// is a symlink to a directory holding a symlink to one of its own files. The
// link's target must be compared with the root resolved, or the file is
// catalogued twice, once under each name.
func TestFollowedFileSymlinkBelowSymlinkedRoot(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "real", "sub", "f.txt"), []byte("payload\n"))
	if err := os.Symlink("sub/f.txt", filepath.Join(dir, "real", "alias.txt")); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link2")
	if err := os.Symlink("real", link); err != nil {
		t.Fatal(err)
	}
	c := openTestCatalog(t)
	ctx := context.Background()
	rep, err := c.Scan(ctx, []string{link}, ScanOptions{Machine: "m", FollowSymlinks: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Counts.Added != 1 {
		t.Errorf("scan added %d files, want 1 (the file, not its alias)", rep.Counts.Added)
	}
	alias := filepath.Join(link, "alias.txt")
	if len(rep.Skips) != 1 || rep.Skips[0].Path != alias || rep.Skips[0].Reason != walk.ReasonLinkIn {
		t.Errorf("skips %+v, want %s skipped as %q", rep.Skips, alias, walk.ReasonLinkIn)
	}
	var paths []string
	if _, err := c.Find(ctx, FindOptions{MaxSize: -1}, func(f dto.FileWithHash) error {
		paths = append(paths, f.Path)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.Join(link, "sub", "f.txt")}; !slices.Equal(paths, want) {
		t.Errorf("catalogued %q, want %q", paths, want)
	}
}
