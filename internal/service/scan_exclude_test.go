package service

import (
	"archive/zip"
	"path/filepath"
	"testing"

	"github.com/indexer/indexer/internal/archive/archivetest"
	"github.com/indexer/indexer/internal/dto"
)

// TestScanExcludeMarksRowsGone scans a tree, then scans it again with
// --exclude patterns: the files they match, everything below an excluded
// directory, and the entries of an excluded archive become DEL (counted
// apart from files found gone), so that no query shows them as present,
// while a PATH named below an excluded directory is still walked and keeps
// its files. A scan without the patterns brings them back as ADD.
func TestScanExcludeMarksRowsGone(t *testing.T) {
	c := openTestCatalog(t)
	root := t.TempDir()
	files := map[string]string{
		"keep/a.txt":             "a",
		"node_modules/x.js":      "x",
		"node_modules/deep/y.js": "y",
		"cache.tmp":              "tmp",
		"named/node_modules/z":   "z", // below an excluded directory, but named as a PATH
	}
	for rel, data := range files {
		writeFile(t, filepath.Join(root, rel), []byte(data))
	}
	zipPath := filepath.Join(root, "old.zip")
	writeFile(t, zipPath, archivetest.Zip(t, []archivetest.File{{Name: "in.txt", Data: []byte("in")}, {Name: "two.txt", Data: []byte("two")}}, zip.Store))
	named := filepath.Join(root, "named", "node_modules")
	roots := []string{root, named}
	first := mustScan(t, c, roots, ScanOptions{Archives: true})
	if first.Counts.Added != 8 || first.ExcludedGone != 0 {
		t.Fatalf("first scan: %+v, %d excluded gone; want 8 added", first.Counts, first.ExcludedGone)
	}
	outOfRacyWindow()

	rep := mustScan(t, c, roots, ScanOptions{Archives: true, Exclude: []string{"node_modules", "*.tmp", "*.zip"}})
	// node_modules/x.js, node_modules/deep/y.js, cache.tmp, old.zip and its
	// two entries.
	const want = 6
	if rep.ExcludedGone != want || rep.Counts.Deleted != 0 {
		t.Errorf("excluded scan: %d excluded rows marked gone, %d deleted; want %d and 0", rep.ExcludedGone, rep.Counts.Deleted, want)
	}
	if res := rep.Result(); res.ExcludedMarkedGone != want {
		t.Errorf("summary: excluded_marked_gone %d, want %d", res.ExcludedMarkedGone, want)
	}
	rows := arcRows(t, c)
	for key, op := range map[string]dto.Operation{
		filepath.Join(root, "keep/a.txt"):             dto.OpAdd,
		filepath.Join(root, "named/node_modules/z"):   dto.OpAdd,
		filepath.Join(root, "node_modules/x.js"):      dto.OpDel,
		filepath.Join(root, "node_modules/deep/y.js"): dto.OpDel,
		filepath.Join(root, "cache.tmp"):              dto.OpDel,
		zipPath:                                       dto.OpDel,
		zipPath + "::in.txt":                          dto.OpDel,
		zipPath + "::two.txt":                         dto.OpDel,
	} {
		if r, ok := rows[key]; !ok || r.Op != string(op) {
			t.Errorf("%s: row %+v, want %s", key, r, op)
		}
	}
	var present []string
	if _, err := c.Find(t.Context(), FindOptions{MaxSize: -1, IncludeArchived: true}, func(f dto.FileWithHash) error {
		present = append(present, entryPath(f.Path, f.ArchivePath))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	const wantPresent = 2
	if len(present) != wantPresent {
		t.Errorf("find lists %q; want keep/a.txt and named/node_modules/z alone", present)
	}
	st, err := c.Stats(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != wantPresent || st.ArchiveEntries != 0 {
		t.Errorf("stats: %d files, %d archive entries; want %d and 0", st.Files, st.ArchiveEntries, wantPresent)
	}

	// Without the patterns the files come back.
	again := mustScan(t, c, roots, ScanOptions{Archives: true})
	if again.Counts.Added != want || again.ExcludedGone != 0 || again.Counts.Deleted != 0 {
		t.Errorf("scan without the patterns: %+v, %d excluded gone; want %d added", again.Counts, again.ExcludedGone, want)
	}
	checkIntegrity(t, c)
}
