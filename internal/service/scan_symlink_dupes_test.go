package service

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
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

// TestDupesOneFileUnderTwoPaths is issue 23's first case: a directory scanned
// once by its real path and once through a symlink to it records each file
// twice, with a link count of 1. Those two rows are one copy: a content held
// only there is no duplicate, and one also held elsewhere has one name to
// spare, not two, and is listed where that puts it.
func TestDupesOneFileUnderTwoPaths(t *testing.T) {
	dir := t.TempDir()
	real, link, other := filepath.Join(dir, "real"), filepath.Join(dir, "link"), filepath.Join(dir, "other")
	x, y, z := randomBytes(1, 1000), randomBytes(2, 1500), randomBytes(3, 500)
	writeFile(t, filepath.Join(real, "sub", "only.txt"), []byte("payload\n")) // one file, two names
	writeFile(t, filepath.Join(real, "sub", "x.bin"), x)                      // two names, and a real copy
	writeFile(t, filepath.Join(other, "x-copy.bin"), x)
	writeFile(t, filepath.Join(other, "y1.bin"), y) // plain pairs, around x in the listing
	writeFile(t, filepath.Join(other, "y2.bin"), y)
	writeFile(t, filepath.Join(other, "z1.bin"), z)
	writeFile(t, filepath.Join(other, "z2.bin"), z)
	if err := os.Symlink("real", link); err != nil {
		t.Fatal(err)
	}
	c := openTestCatalog(t)
	ctx := context.Background()
	for _, root := range []string{real, link, other} {
		if _, err := c.Scan(ctx, []string{root}, ScanOptions{Machine: "m"}); err != nil {
			t.Fatal(err)
		}
	}
	type group struct {
		files, linked []string
		copies        int
		reclaimable   int64
	}
	var got []group
	totals, err := c.Dupes(ctx, DupesOptions{MinSize: 1}, func(g dto.DupeGroup) error {
		gg := group{copies: g.Copies, reclaimable: g.Reclaimable}
		for _, f := range g.Files {
			gg.files = append(gg.files, f.Path)
			if f.Linked {
				gg.linked = append(gg.linked, f.Path)
			}
		}
		got = append(got, gg)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join
	// Largest reclaimable first: y (1500), x (1000: one spare copy, not
	// two), z (500); only.txt is not listed at all.
	want := []group{
		{files: []string{p(other, "y1.bin"), p(other, "y2.bin")}, copies: 2, reclaimable: 1500},
		{files: []string{p(link, "sub", "x.bin"), p(other, "x-copy.bin"), p(real, "sub", "x.bin")},
			linked: []string{p(link, "sub", "x.bin"), p(real, "sub", "x.bin")}, copies: 2, reclaimable: 1000},
		{files: []string{p(other, "z1.bin"), p(other, "z2.bin")}, copies: 2, reclaimable: 500},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("dupes\n got %+v\nwant %+v", got, want)
	}
	if want := (dto.DupeTotals{Groups: 3, Files: 7, Reclaimable: 3000}); totals != want {
		t.Errorf("totals %+v, want %+v", totals, want)
	}
	st, err := c.Stats(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if g := (dto.DupeTotals{Groups: st.DuplicateGroups, Files: st.DuplicateFiles, Reclaimable: st.ReclaimableBytes}); g != totals {
		t.Errorf("stats count duplicates as %+v, dupes as %+v", g, totals)
	}
}
