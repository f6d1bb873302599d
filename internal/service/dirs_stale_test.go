package service

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// subsetsRel lists DirSubsets as "a in c" with paths relative to base.
func subsetsRel(t *testing.T, c *Catalog, base string) []string {
	t.Helper()
	subs, err := c.DirSubsets(context.Background(), SubsetOptions{MinSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range subs {
		a, _ := filepath.Rel(base, s.Dir.Path)
		b, _ := filepath.Rel(base, s.In.Path)
		out = append(out, a+" in "+b)
	}
	return out
}

func sameList(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %q, want %q", what, got, want)
		return
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("%s: %q, want %q", what, got, want)
			return
		}
	}
}

// TestDirsForgetLeavesNoStaleDigests: forget removes the directories it
// forgets the files of, and those above lose their digests (they are no
// longer held in full) until a scan lists them again: neither dupes --dirs
// nor --subset answers from what the forgotten rows were.
func TestDirsForgetLeavesNoStaleDigests(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	root := filepath.Join(base, "t")
	tree(t, filepath.Join(root, "a"), map[string]string{"x": "A"})
	tree(t, filepath.Join(root, "b"), map[string]string{"y": "B"})
	tree(t, filepath.Join(root, "c"), map[string]string{"x": "A", "z": "C"})
	tree(t, filepath.Join(root, "d"), map[string]string{"x": "A", "z": "C"})
	c := openTestCatalog(t)
	mustScan(t, c, []string{base}, ScanOptions{})
	sameList(t, "subsets after the scan", subsetsRel(t, c, base), "t/a in t/c")
	sameGroups(t, "tree after the scan", dirGroups(t, c, base, tree0), [][]string{{"t/c", "t/d"}})

	if _, err := c.ForgetUnder(ctx, "m1", []string{filepath.Join(root, "b"), filepath.Join(root, "c"), filepath.Join(root, "d")}); err != nil {
		t.Fatal(err)
	}
	sameList(t, "subsets after forget", subsetsRel(t, c, base))
	// t/c and t/d are forgotten; t holds them on disk, which the catalog
	// no longer does.
	sameGroups(t, "tree after forget", dirGroups(t, c, base, tree0), nil)
	sameGroups(t, "content after forget", dirGroups(t, c, base, content0), nil)
	ds := dumpDirs(t, c, "m1", root)
	if len(ds) != 2 || ds[root].Complete || ds[root].Content != nil || ds[filepath.Join(root, "a")].Content == nil {
		var held []string
		for p, d := range ds {
			held = append(held, fmt.Sprintf("%s (complete %v, digests %v)", p, d.Complete, d.Content != nil))
		}
		t.Errorf("directories after forget: %v; want t, incomplete without digests, and t/a with digests", held)
	}

	// A scan of t lists them again.
	mustScan(t, c, []string{root}, ScanOptions{})
	sameList(t, "subsets after a rescan", subsetsRel(t, c, base), "t/a in t/c")
	sameGroups(t, "tree after a rescan", dirGroups(t, c, base, tree0), [][]string{{"t/c", "t/d"}})
}

// TestDirsMergeLeavesNoStaleDigests: a file-by-file merge writes rows below
// directories whose digests and stored entries saw other rows; they, and
// those above, lose their digests, and the next scan of the machine, even
// of another root, computes them again from the rows, although it writes
// none of the merged rows (they are its files as they are).
func TestDirsMergeLeavesNoStaleDigests(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	root := filepath.Join(base, "t")
	tree(t, filepath.Join(root, "a"), map[string]string{"x": "A"})
	tree(t, filepath.Join(root, "b"), map[string]string{"y": "B"})
	tree(t, filepath.Join(root, "c"), map[string]string{"z": "C"})
	tree(t, filepath.Join(base, "other"), map[string]string{"w": "W"})
	c := openTestCatalog(t)
	mustScan(t, c, []string{base}, ScanOptions{})
	sameList(t, "subsets after the scan", subsetsRel(t, c, base))

	// Another catalog of the same machine scans t/c once it also holds
	// a copy of t/a's file.
	tree(t, filepath.Join(root, "c"), map[string]string{"x2": "A"})
	outOfRacyWindow()
	srcPath := filepath.Join(t.TempDir(), "src.db")
	src := openCatalogAt(t, srcPath)
	mustScan(t, src, []string{filepath.Join(root, "c")}, ScanOptions{Machine: "m1"})
	src.Close()
	ms, err := OpenMergeSource(ctx, c.DB().Path(), srcPath)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Merge(ctx, ms, MergeOptions{})
	ms.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].How != "merged" {
		t.Fatalf("merge: %+v; want m1 merged", res)
	}
	// Until a scan, t/c and those above have no digests.
	ds := dumpDirs(t, c, "m1", base)
	for _, p := range []string{filepath.Join(root, "c"), root, base} {
		if d := ds[p]; d.Content != nil || d.Tree != nil {
			t.Errorf("%s after the merge has digests; want none", p)
		}
	}
	if d := ds[filepath.Join(root, "a")]; d.Content == nil {
		t.Errorf("t/a after the merge has no digests; want its digests kept")
	}

	// A scan of another root of the machine computes them again from
	// the rows; so does a rescan, which writes none of the merged rows.
	mustScan(t, c, []string{filepath.Join(base, "other")}, ScanOptions{})
	sameList(t, "subsets after a scan elsewhere", subsetsRel(t, c, base), "t/a in t/c")
	mustScan(t, c, []string{base}, ScanOptions{})
	sameList(t, "subsets after a rescan", subsetsRel(t, c, base), "t/a in t/c")
	if d := dumpDirs(t, c, "m1", root)[filepath.Join(root, "c")]; d.Files != 2 || d.Content == nil {
		t.Errorf("t/c after the rescan: %d files, digests %v; want 2 files with digests", d.Files, d.Content != nil)
	}
}

// TestDirsMergeNewDirectoryIncomplete: a merge that writes files in a
// directory the catalog does not hold makes its nearest held ancestor
// incomplete, as a scan would: its digests would leave them out. A scan
// that lists it computes them.
func TestDirsMergeNewDirectoryIncomplete(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	tree(t, filepath.Join(base, "a"), map[string]string{"x": "A", "y": "B"})
	tree(t, filepath.Join(base, "b"), map[string]string{"x": "A", "y": "B"})
	c := openTestCatalog(t)
	mustScan(t, c, []string{base}, ScanOptions{})
	sameGroups(t, "tree after the scan", dirGroups(t, c, base, tree0), [][]string{{"a", "b"}})

	tree(t, filepath.Join(base, "b", "n"), map[string]string{"v": "V"})
	srcPath := filepath.Join(t.TempDir(), "src.db")
	src := openCatalogAt(t, srcPath)
	mustScan(t, src, []string{filepath.Join(base, "b", "n")}, ScanOptions{Machine: "m1"})
	src.Close()
	ms, err := OpenMergeSource(ctx, c.DB().Path(), srcPath)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Merge(ctx, ms, MergeOptions{})
	ms.Close()
	if err != nil {
		t.Fatal(err)
	}
	sameGroups(t, "tree after the merge", dirGroups(t, c, base, tree0), nil)
	// A scan elsewhere does not make b whole again: b/n is not listed.
	other := filepath.Join(t.TempDir(), "other")
	tree(t, other, map[string]string{"w": "W"})
	mustScan(t, c, []string{other}, ScanOptions{})
	sameGroups(t, "tree after a scan elsewhere", dirGroups(t, c, base, tree0), nil)
	if d := dumpDirs(t, c, "m1", base)[filepath.Join(base, "b")]; d.Complete || d.Content != nil {
		t.Errorf("b after a scan elsewhere: complete %v, digests %v; want incomplete, without digests", d.Complete, d.Content != nil)
	}
	tree(t, filepath.Join(base, "a", "n"), map[string]string{"v": "V"})
	mustScan(t, c, []string{base}, ScanOptions{})
	sameGroups(t, "tree after a rescan", dirGroups(t, c, base, tree0), [][]string{{"a", "b"}})
}

// TestDirsImportLeavesNoStaleDigests: an import replaces a row below a
// directory whose digests saw the old one; it and those above lose their
// digests until the next scan of the machine computes them from the rows.
func TestDirsImportLeavesNoStaleDigests(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	tree(t, filepath.Join(base, "a"), map[string]string{"x": "A", "y": "B"})
	tree(t, filepath.Join(base, "b"), map[string]string{"x": "A", "y": "B"})
	c := openTestCatalog(t)
	mustScan(t, c, []string{base}, ScanOptions{})
	sameGroups(t, "tree after the scan", dirGroups(t, c, base, tree0), [][]string{{"a", "b"}})

	// b/y as another content, as a checksum file says it is.
	sum := sha256Of([]byte("other")) + "  " + filepath.Join(base, "b", "y") + "\n"
	open := func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(sum)), nil }
	if _, err := c.Import(ctx, open, ImportOptions{Machine: "m1"}); err != nil {
		t.Fatal(err)
	}
	sameGroups(t, "tree after the import", dirGroups(t, c, base, tree0), nil)
	sameGroups(t, "content after the import", dirGroups(t, c, base, content0), nil)
	for _, p := range []string{filepath.Join(base, "b"), base} {
		if d := dumpDirs(t, c, "m1", base)[p]; d.Content != nil || !d.Complete {
			t.Errorf("%s after the import: complete %v, digests %v; want complete, without digests", p, d.Complete, d.Content != nil)
		}
	}
}
