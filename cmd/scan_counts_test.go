package cmd

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScanSummaryCountsArchiveEntries checks that the scan summary says how
// many of the files it saw are archive entries, in text and --json, so that
// its count splits as stats counts the catalog: on a fresh catalog the two
// agree, on the first scan and on an unchanged rescan.
func TestScanSummaryCountsArchiveEntries(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"a.txt": "a\n", "b.txt": "b\n", "sub/c.txt": "c\n"})
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range []string{"one.txt", "two.txt"} {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("inside " + name))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "d.zip"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "index.db")

	var stats struct {
		Files          int64 `json:"files"`
		ArchiveEntries int64 `json:"archive_entries"`
	}
	code, out, errOut := runCLI(t, "--db", db, "--machine", "m", "scan", "-q", root)
	if code != 0 {
		t.Fatalf("scan: exit %d: %s", code, errOut)
	}
	if _, st, _ := runCLI(t, "--db", db, "stats", "--json"); json.Unmarshal([]byte(st), &stats) != nil || stats.Files != 4 || stats.ArchiveEntries != 2 {
		t.Fatalf("stats: %s", st)
	}
	if !strings.Contains(out, ": 6 files seen (4 files, 2 archive entries), 6 added") {
		t.Errorf("scan summary does not split its count as stats (4 files, 2 archive entries):\n%s", out)
	}
	for _, pass := range []string{"unchanged", "rehash"} {
		args := []string{"--db", db, "--machine", "m", "--json", "scan", "-q", root}
		if pass == "rehash" {
			args = append(args, "--rehash")
		}
		code, out, errOut = runCLI(t, args...)
		var sum struct {
			FilesSeen          int64  `json:"files_seen"`
			ArchiveEntriesSeen *int64 `json:"archive_entries_seen"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &sum) != nil {
			t.Fatalf("%s scan: exit %d: %s%s", pass, code, out, errOut)
		}
		if sum.ArchiveEntriesSeen == nil || sum.FilesSeen-*sum.ArchiveEntriesSeen != stats.Files || *sum.ArchiveEntriesSeen != stats.ArchiveEntries {
			t.Errorf("%s scan --json: %s\nwant files_seen - archive_entries_seen = %d files, archive_entries_seen = %d, as stats", pass, out, stats.Files, stats.ArchiveEntries)
		}
	}
}
