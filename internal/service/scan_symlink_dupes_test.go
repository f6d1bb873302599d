package service

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/indexer/indexer/internal/dto"
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
