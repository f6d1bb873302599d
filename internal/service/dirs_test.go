package service

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/archive/archivetest"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/uow"
)

// tree writes files (relative path → content) below root; a path ending in
// "/" is an empty directory.
func tree(tb testing.TB, root string, files map[string]string) {
	tb.Helper()
	for rel, data := range files {
		p := filepath.Join(root, rel)
		if strings.HasSuffix(rel, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				tb.Fatal(err)
			}
			continue
		}
		writeFile(tb, p, []byte(data))
	}
}

// dirGroups lists the duplicate directories as sorted lists of paths
// relative to base, sorted.
func dirGroups(tb testing.TB, c *Catalog, base string, o DirDupesOptions) [][]string {
	tb.Helper()
	groups, _, err := c.DupeDirs(context.Background(), o)
	if err != nil {
		tb.Fatal(err)
	}
	var out [][]string
	for _, g := range groups {
		var ps []string
		for _, d := range g.Dirs {
			rel, _ := filepath.Rel(base, d.Path)
			if d.Machine != "m1" {
				rel = d.Machine + ":" + rel
			}
			ps = append(ps, rel)
		}
		sort.Strings(ps)
		out = append(out, ps)
	}
	slices.SortFunc(out, func(a, b []string) int { return strings.Compare(strings.Join(a, " "), strings.Join(b, " ")) })
	return out
}

func sameGroups(t *testing.T, what string, got, want [][]string) {
	t.Helper()
	if want == nil {
		want = [][]string{}
	}
	if got == nil {
		got = [][]string{}
	}
	if !slices.EqualFunc(got, want, slices.Equal[[]string]) {
		t.Errorf("%s: groups %q, want %q", what, got, want)
	}
}

// As dupes --dirs runs by default: directories of at least one byte.
var tree0 = DirDupesOptions{MinSize: 1}
var content0 = DirDupesOptions{Content: true, MinSize: 1}

func TestDirsIdenticalTreesNestedOnce(t *testing.T) {
	base := t.TempDir()
	files := map[string]string{"x.txt": "A", "sub/y.txt": "B", "sub/deep/z.txt": "C"}
	tree(t, filepath.Join(base, "a"), files)
	tree(t, filepath.Join(base, "b"), files)
	tree(t, filepath.Join(base, "c"), map[string]string{"x.txt": "A", "sub/y.txt": "B", "sub/deep/z.txt": "D"})
	c := openTestCatalog(t)
	mustScan(t, c, []string{base}, ScanOptions{})
	// c/sub/deep differs, so a/sub, b/sub and c/sub differ too; a and b
	// are listed once, not their subdirectories again.
	sameGroups(t, "tree", dirGroups(t, c, base, tree0), [][]string{{"a", "b"}})
	sameGroups(t, "content", dirGroups(t, c, base, content0), [][]string{{"a", "b"}})
	groups, totals, err := c.DupeDirs(context.Background(), tree0)
	if err != nil {
		t.Fatal(err)
	}
	if g := groups[0]; g.Size != 3 || g.Files != 3 || g.Reclaimable != 3 || totals.Reclaimable != 3 || totals.Dirs != 2 {
		t.Errorf("group %+v, totals %+v: want 3 bytes in 3 files, 3 reclaimable", g, totals)
	}
	// A subdirectory that is a copy of something outside the pair is listed.
	tree(t, filepath.Join(base, "d"), map[string]string{"deep/z.txt": "C", "other": "E"})
	mustScan(t, c, []string{base}, ScanOptions{})
	sameGroups(t, "tree after d", dirGroups(t, c, base, tree0), [][]string{{"a", "b"}, {"a/sub/deep", "b/sub/deep", "d/deep"}})
}

func TestDirsRenamedAndSwapped(t *testing.T) {
	base := t.TempDir()
	tree(t, filepath.Join(base, "orig"), map[string]string{"x": "A", "y": "B", "s/z": "C"})
	tree(t, filepath.Join(base, "renamed"), map[string]string{"p": "A", "q": "B", "t/r": "C"})
	tree(t, filepath.Join(base, "flat"), map[string]string{"1": "C", "2": "B", "3": "A"})
	tree(t, filepath.Join(base, "swapped"), map[string]string{"x": "B", "y": "A", "s/z": "C"})
	c := openTestCatalog(t)
	mustScan(t, c, []string{base}, ScanOptions{})
	// The tree mode matches names and contents: swapped contents are
	// another tree; only the untouched subdirectory s is the same.
	sameGroups(t, "tree", dirGroups(t, c, base, tree0), [][]string{{"orig/s", "swapped/s"}})
	sameGroups(t, "content", dirGroups(t, c, base, content0), [][]string{{"flat", "orig", "renamed", "swapped"}})
}

func TestDirsMultiplicity(t *testing.T) {
	base := t.TempDir()
	// rmlint #742: {A,A,A,B} matched {A,B,B,B} under an XOR of hashes.
	tree(t, filepath.Join(base, "aaab"), map[string]string{"1": "A", "2": "A", "3": "A", "4": "B"})
	tree(t, filepath.Join(base, "abbb"), map[string]string{"1": "A", "2": "B", "3": "B", "4": "B"})
	tree(t, filepath.Join(base, "ab"), map[string]string{"1": "A", "2": "B"})
	tree(t, filepath.Join(base, "aaab2"), map[string]string{"x": "B", "y": "A", "z": "A", "w": "A"})
	c := openTestCatalog(t)
	mustScan(t, c, []string{base}, ScanOptions{})
	sameGroups(t, "tree", dirGroups(t, c, base, tree0), nil)
	sameGroups(t, "content", dirGroups(t, c, base, content0), [][]string{{"aaab", "aaab2"}})
}

func TestDirsEmptyFileAndEmptyDir(t *testing.T) {
	base := t.TempDir()
	tree(t, filepath.Join(base, "full"), map[string]string{"f": "A", "empty": "", "nothing/": ""})
	tree(t, filepath.Join(base, "copy"), map[string]string{"f": "A", "empty": "", "nothing/": ""})
	tree(t, filepath.Join(base, "noempty"), map[string]string{"f": "A", "nothing/": ""})
	tree(t, filepath.Join(base, "nodir"), map[string]string{"f": "A", "empty": ""})
	c := openTestCatalog(t)
	mustScan(t, c, []string{base}, ScanOptions{})
	sameGroups(t, "tree", dirGroups(t, c, base, tree0), [][]string{{"copy", "full"}})
	// The same files: an empty file is a file, an empty directory is layout.
	sameGroups(t, "content", dirGroups(t, c, base, content0), [][]string{{"copy", "full", "nodir"}})
	// Empty directories match each other once --min-size lets them in.
	sameGroups(t, "tree, min-size 0", dirGroups(t, c, base, DirDupesOptions{}),
		[][]string{{"copy", "full"}, {"copy/nothing", "full/nothing", "noempty/nothing"}})
}

func TestDirsIncompleteNeverMatch(t *testing.T) {
	base := t.TempDir()
	files := map[string]string{"x": "A", "sub/y": "B"}
	for _, d := range []string{"a", "b", "c"} {
		tree(t, filepath.Join(base, d), files)
	}
	// A FIFO in b/sub is skipped (not a regular file); c/sub/tmp is excluded.
	if err := syscall.Mkfifo(filepath.Join(base, "b", "sub", "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(base, "c", "sub", "skip.tmp"), []byte("Z"))
	c := openTestCatalog(t)
	rep := mustScan(t, c, []string{base}, ScanOptions{Exclude: []string{"*.tmp"}})
	if rep.Counts.Skipped != 2 {
		t.Fatalf("skips %+v: want the FIFO and the excluded file", rep.Skips)
	}
	sameGroups(t, "skipped entries", dirGroups(t, c, base, tree0), nil)
	// Once every entry is held, the next scan brings the digests up to date.
	if err := os.Remove(filepath.Join(base, "b", "sub", "fifo")); err != nil {
		t.Fatal(err)
	}
	mustScan(t, c, []string{base}, ScanOptions{Exclude: []string{"*.tmp"}})
	sameGroups(t, "FIFO removed", dirGroups(t, c, base, tree0), [][]string{{"a", "b"}})
	mustScan(t, c, []string{base}, ScanOptions{})
	sameGroups(t, "nothing excluded", dirGroups(t, c, base, tree0), [][]string{{"a", "b"}})
}

func TestDirsSubset(t *testing.T) {
	base := t.TempDir()
	tree(t, filepath.Join(base, "small"), map[string]string{"1": "A", "2": "A", "3": "B"})
	tree(t, filepath.Join(base, "big"), map[string]string{"x/1": "A", "y/2": "A", "3": "B", "4": "C", "5": "D"})
	tree(t, filepath.Join(base, "bigger"), map[string]string{"1": "A", "2": "A", "3": "B", "4": "C", "5": "D", "6": "E", "7": "F"})
	// One A only: not held by a directory with two As and no more A.
	tree(t, filepath.Join(base, "half"), map[string]string{"1": "A", "2": "E", "3": "F", "4": "G"})
	c := openTestCatalog(t)
	mustScan(t, c, []string{base}, ScanOptions{})
	checkSubsets(t, c, base, "after a scan")
	// As dedupe leaves the directories it changed: their own files are
	// read from the rows.
	err := c.DB().WithWrite(func(w *sqlx.DB) error {
		_, err := w.Exec("UPDATE dirs SET entries = NULL")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	checkSubsets(t, c, base, "without stored entries")
}

func checkSubsets(t *testing.T, c *Catalog, base, when string) {
	t.Helper()
	subs, err := c.DirSubsets(context.Background(), SubsetOptions{MinSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range subs {
		a, _ := filepath.Rel(base, s.Dir.Path)
		b, _ := filepath.Rel(base, s.In.Path)
		got[a] = b + " +" + string(rune('0'+s.Extra))
	}
	// small ⊆ big (2 more) ⊆ bigger (2 more); big's x and y are in small
	// (and its files) but that is small ⊆ ..., and x alone is in a
	// directory with the same A: listed with the closest holder.
	want := map[string]string{"small": "big +2", "big": "bigger +2"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s: got %q, want %q (all: %v)", when, k, got[k], v, got)
		}
	}
	if _, ok := got["half"]; ok {
		t.Errorf("%s: half is held by no directory, got %v", when, got)
	}
}

func TestDirsHardLinks(t *testing.T) {
	base := t.TempDir()
	tree(t, filepath.Join(base, "a"), map[string]string{"x": "AAAA", "s/y": "BBBB"})
	tree(t, filepath.Join(base, "copy"), map[string]string{"x": "AAAA", "s/y": "BBBB"})
	for _, rel := range []string{"x", "s/y"} {
		p := filepath.Join(base, "linked", rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Link(filepath.Join(base, "a", rel), p); err != nil {
			t.Fatal(err)
		}
	}
	c := openTestCatalog(t)
	mustScan(t, c, []string{base}, ScanOptions{})
	groups, _, err := c.DupeDirs(context.Background(), tree0)
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 1 || len(groups[0].Dirs) != 3 {
		t.Fatalf("groups %+v: want a, copy and linked", groups)
	}
	g := groups[0]
	links := map[string]int{}
	for _, d := range g.Dirs {
		links[filepath.Base(d.Path)] = d.Link
	}
	if links["a"] != 1 || links["linked"] != 1 || links["copy"] != 0 {
		t.Errorf("link sets %v: want a and linked in set 1, copy in none", links)
	}
	// Two copies: a (with its links) and copy.
	if g.Reclaimable != 8 {
		t.Errorf("reclaimable %d, want 8 (one real copy of 8 bytes)", g.Reclaimable)
	}
}

func TestDirsArchive(t *testing.T) {
	base := t.TempDir()
	zip := archivetest.Zip(t, []archivetest.File{{Name: "in.txt", Data: []byte("inside")}}, 0)
	other := archivetest.Zip(t, []archivetest.File{{Name: "in.txt", Data: []byte("inside")}, {Name: "more.txt", Data: []byte("more")}}, 0)
	tree(t, filepath.Join(base, "a"), map[string]string{"pack.zip": string(zip), "f": "A"})
	tree(t, filepath.Join(base, "b"), map[string]string{"pack.zip": string(zip), "f": "A"})
	// Same entry inside, but a different archive file: not the same tree.
	tree(t, filepath.Join(base, "c"), map[string]string{"pack.zip": string(other), "f": "A"})
	// An archive that cannot be read: its directory is not held in full.
	tree(t, filepath.Join(base, "d"), map[string]string{"pack.zip": string(zip[:len(zip)-30]), "f": "A"})
	tree(t, filepath.Join(base, "e"), map[string]string{"pack.zip": string(zip[:len(zip)-30]), "f": "A"})
	c := openTestCatalog(t)
	rep := mustScan(t, c, []string{base}, ScanOptions{Archives: true})
	if rep.Counts.Failed != 2 {
		t.Fatalf("failures %v: want the two truncated archives", failurePaths(rep))
	}
	sameGroups(t, "tree", dirGroups(t, c, base, tree0), [][]string{{"a", "b"}})
	sameGroups(t, "content", dirGroups(t, c, base, content0), [][]string{{"a", "b"}})
}

func TestDirsAcrossMachines(t *testing.T) {
	base := t.TempDir()
	tree(t, filepath.Join(base, "Photos"), map[string]string{"1.jpg": "A", "2.jpg": "B"})
	c := openTestCatalog(t)
	mustScan(t, c, []string{filepath.Join(base, "Photos")}, ScanOptions{Machine: "m1"})
	mustScan(t, c, []string{filepath.Join(base, "Photos")}, ScanOptions{Machine: "nas"})
	sameGroups(t, "machines", dirGroups(t, c, base, tree0), [][]string{{"Photos", "nas:Photos"}})
	sameGroups(t, "machine m1", dirGroups(t, c, base, DirDupesOptions{Machine: "m1"}), nil)
}

// dumpDirs returns the catalog's directories below base, without ids and
// scans, by path.
func dumpDirs(tb testing.TB, c *Catalog, machine, base string) map[string]dto.Dir {
	tb.Helper()
	out := map[string]dto.Dir{}
	err := c.UoW().Read(context.Background(), func(ctx context.Context, r *uow.Repos) error {
		ds, err := r.Dirs.Under(ctx, machine, base)
		for _, d := range ds {
			d.ID, d.ScanID = 0, 0
			out[d.Path] = d
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// TestDirsIncrementalMatchesFresh changes a tree in every way a rescan sees
// and checks after each scan that the digests kept up to date are those a
// fresh catalog computes from scratch.
func TestDirsIncrementalMatchesFresh(t *testing.T) {
	base := t.TempDir()
	tree(t, base, map[string]string{"a/x": "A", "a/s/y": "B", "b/x": "A", "b/s/y": "B", "c/z": "C", "c/e/": "", "d/deep/er/f": "F"})
	c := openTestCatalog(t)
	steps := []struct {
		name   string
		change func()
		groups [][]string
	}{
		{"first", func() {}, [][]string{{"a", "b"}}},
		{"modify", func() { writeFile(t, filepath.Join(base, "b/s/y"), []byte("b2")) }, nil},
		{"revert", func() { writeFile(t, filepath.Join(base, "b/s/y"), []byte("B")) }, [][]string{{"a", "b"}}},
		{"add file", func() { writeFile(t, filepath.Join(base, "a/s/new"), []byte("N")) }, nil},
		{"add to b", func() { writeFile(t, filepath.Join(base, "b/s/new"), []byte("N")) }, [][]string{{"a", "b"}}},
		{"delete dir", func() { os.RemoveAll(filepath.Join(base, "d/deep")) }, [][]string{{"a", "b"}}},
		{"empty dir", func() { os.MkdirAll(filepath.Join(base, "a/s/e"), 0o755) }, nil},
		{"delete file", func() { os.Remove(filepath.Join(base, "c/z")) }, nil},
		{"file to dir", func() {
			os.Remove(filepath.Join(base, "a/x"))
			writeFile(t, filepath.Join(base, "a/x/in"), []byte("A"))
		}, nil},
		{"touch", func() { writeFile(t, filepath.Join(base, "b/x"), []byte("A")) }, nil},
		{"dir to file", func() {
			os.RemoveAll(filepath.Join(base, "a/x"))
			os.Remove(filepath.Join(base, "a/s/e"))
			writeFile(t, filepath.Join(base, "a/x"), []byte("A"))
		}, [][]string{{"a", "b"}}},
	}
	for _, st := range steps {
		st.change()
		outOfRacyWindow()
		mustScan(t, c, []string{base}, ScanOptions{})
		fresh := openTestCatalog(t)
		mustScan(t, fresh, []string{base}, ScanOptions{})
		got, want := dumpDirs(t, c, "m1", base), dumpDirs(t, fresh, "m1", base)
		if len(got) != len(want) {
			t.Errorf("%s: %d directories, want %d", st.name, len(got), len(want))
		}
		for p, w := range want {
			if g := got[p]; !dirsEqual(g, w) {
				t.Errorf("%s: %s is %+v, want %+v", st.name, p, g, w)
			}
		}
		sameGroups(t, st.name, dirGroups(t, c, base, tree0), st.groups)
	}
	// A scan of a subtree brings its ancestors up to date too.
	writeFile(t, filepath.Join(base, "a/s/e/f"), []byte("x"))
	mustScan(t, c, []string{filepath.Join(base, "a/s")}, ScanOptions{})
	fresh := openTestCatalog(t)
	mustScan(t, fresh, []string{base}, ScanOptions{})
	if g, w := dumpDirs(t, c, "m1", base)[base], dumpDirs(t, fresh, "m1", base)[base]; !dirsEqual(g, w) {
		t.Errorf("after a scan of a/s, the root is %+v, want %+v", g, w)
	}
}

func dirsEqual(a, b dto.Dir) bool {
	return a.Path == b.Path && a.Parent == b.Parent && a.Complete == b.Complete && a.Size == b.Size && a.Files == b.Files &&
		string(a.Tree) == string(b.Tree) && string(a.Content) == string(b.Content) && string(a.ContentSum) == string(b.ContentSum)
}

func TestContainsSorted(t *testing.T) {
	for _, c := range []struct {
		big, small []int32
		want       bool
	}{
		{[]int32{1, 2, 3}, nil, true},
		{[]int32{1, 2, 3}, []int32{2}, true},
		{[]int32{1, 1, 1, 2}, []int32{1, 2, 2, 2}, false}, // {A,A,A,B} does not hold {A,B,B,B}
		{[]int32{1, 2, 2, 2}, []int32{1, 1, 1, 2}, false},
		{[]int32{1, 1, 2, 2, 2, 5}, []int32{1, 1, 2, 2, 5}, true},
		{[]int32{1, 2, 4}, []int32{1, 3}, false},
		{[]int32{1, 2}, []int32{2, 2}, false},
		{[]int32{2}, []int32{2, 2}, false},
		{[]int32{0, 7, 7}, []int32{7, 7}, true},
	} {
		if got := containsSorted(c.big, c.small); got != c.want {
			t.Errorf("containsSorted(%v, %v) = %v, want %v", c.big, c.small, got, c.want)
		}
	}
}

// TestDirsReadInBatchesAsOneByOne: the digests of a first scan, whose
// directories read their files several at a query (readOwnFiles), equal
// those read one directory at a query, whatever the batch's bound: files
// land in their own directory, empty directories and directories of a
// single large file included.
func TestDirsReadInBatchesAsOneByOne(t *testing.T) {
	base := t.TempDir()
	files := map[string]string{"e/": "", "top": "T", "a/b/c/deep": "D"}
	for d := range 12 {
		for f := range d % 6 {
			files[fmt.Sprintf("d%02d/f%d", d, f)] = fmt.Sprintf("content %d", (d*f)%7)
		}
		files[fmt.Sprintf("d%02d/sub/x", d)] = "X"
	}
	tree(t, base, files)
	outOfRacyWindow()
	dump := func(batch int) map[string]dto.Dir {
		defer func(old int) { ownFilesBatch = old }(ownFilesBatch)
		ownFilesBatch = batch
		c := openTestCatalog(t)
		mustScan(t, c, []string{base}, ScanOptions{})
		return dumpDirs(t, c, "m1", base)
	}
	want := dump(0)      // one directory with files a query
	if len(want) != 29 { // base, e, a, a/b, a/b/c, d00..d11 and their sub
		t.Fatalf("%d directories, want 29", len(want))
	}
	for _, batch := range []int{1, 4, 20000} {
		got := dump(batch)
		if len(got) != len(want) {
			t.Errorf("batch %d: %d directories, want %d", batch, len(got), len(want))
		}
		for p, w := range want {
			if g := got[p]; !dirsEqual(g, w) || w.Content == nil {
				t.Errorf("batch %d: %s is %+v, want %+v", batch, p, g, w)
			}
		}
	}
}

// TestReadOwnFilesBounded: when a first scan computes its directories none
// has stored entries, so the scan keeps none of the files it wrote in them
// in memory; readOwnFiles must still stop at ownFilesBatch files, after the
// first directory, rather than read every directory of the chunk at once.
func TestReadOwnFilesBounded(t *testing.T) {
	base := t.TempDir()
	files := map[string]string{}
	for d := range 3 {
		for f := range 5 {
			files[fmt.Sprintf("d%d/f%d", d, f)] = fmt.Sprintf("%d %d", d, f)
		}
	}
	tree(t, base, files)
	outOfRacyWindow()
	c := openTestCatalog(t)
	rep := mustScan(t, c, []string{base}, ScanOptions{})
	defer func(old int) { ownFilesBatch = old }(ownFilesBatch)
	ownFilesBatch = 5
	ctx := context.Background()
	// Back to the catalog as a first scan finds it when it computes the
	// directories: no entries stored, no file counts, its changes pending.
	err := c.DB().WithWrite(func(w *sqlx.DB) error {
		if _, err := w.ExecContext(ctx, "UPDATE dirs SET entries = NULL, files = 0, size = 0"); err != nil {
			return err
		}
		_, err := w.ExecContext(ctx, "UPDATE scans SET dirs_done = 0")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	paths := []string{filepath.Join(base, "d0"), filepath.Join(base, "d1"), filepath.Join(base, "d2")}
	err = c.UoW().Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		withEntries, err := r.Dirs.WithEntries(ctx, "m1")
		if err != nil {
			return err
		}
		present, _, err := r.Dirs.ChangedFiles(ctx, "m1", []int64{rep.ID}, withEntries)
		if err != nil {
			return err
		}
		held, err := r.Dirs.Get(ctx, "m1", paths)
		if err != nil {
			return err
		}
		var dirs []dto.Dir
		for _, p := range paths {
			dirs = append(dirs, held[p])
		}
		got, err := readOwnFiles(ctx, r, "m1", dirs, nil, present)
		if err != nil {
			return err
		}
		if len(got) != 1 || len(got[paths[0]]) != 5 {
			n := 0
			for _, fs := range got {
				n += len(fs)
			}
			t.Errorf("read %d directories, %d files at once; want the first alone, 5 files (bound %d)", len(got), n, ownFilesBatch)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
