package cmd

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestFindPrintsEveryTimeExactly scans files at the epoch and in 2446 (set
// with utimensat: os.Chtimes cannot set a time after 2262) and a tar entry
// from the year 10000, and reads their times from find's text and JSON.
func TestFindPrintsEveryTimeExactly(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "tree")
	writeTree(t, root, map[string]string{"epoch.o": "e", "future.txt": "f"})
	set := func(name string, mt time.Time) {
		ts := unix.Timespec{Sec: mt.Unix(), Nsec: int64(mt.Nanosecond())}
		if err := unix.UtimesNano(filepath.Join(root, name), []unix.Timespec{ts, ts}); err != nil {
			t.Fatal(err)
		}
	}
	set("epoch.o", time.Unix(0, 0))
	set("future.txt", time.Date(2446, 5, 10, 22, 38, 54, 123456789, time.UTC))
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	if err := tw.WriteHeader(&tar.Header{Name: "far.txt", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1,
		ModTime: time.Date(10000, 1, 2, 3, 4, 5, 6, time.UTC), Format: tar.FormatPAX}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "far.tar"), tb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "c.db")
	if code, _, errOut := runIndexer(t, context.Background(), "--db", db, "scan", "-q", root); code != 0 {
		t.Fatalf("scan: exit %d: %s", code, errOut)
	}

	code, out, errOut := runIndexer(t, context.Background(), "--db", db, "find", "--include-archived")
	if code != 0 {
		t.Fatalf("find: exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"1970-01-01 00:00  " + filepath.Join(root, "epoch.o") + "\n",
		"2446-05-10 22:38  " + filepath.Join(root, "future.txt") + "\n",
		"10000-01-02 03:04  " + filepath.Join(root, "far.tar") + "::far.txt\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("find text lacks %q:\n%s", want, out)
		}
	}

	code, out, errOut = runIndexer(t, context.Background(), "--db", db, "find", "--json", "--include-archived")
	if code != 0 {
		t.Fatalf("find --json: exit %d: %s", code, errOut)
	}
	var got []struct {
		Path        string `json:"path"`
		ArchivePath string `json:"archive_path"`
		Modified    string `json:"modified"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("find --json: %v\n%s", err, out)
	}
	byName := map[string]string{}
	for _, f := range got {
		byName[filepath.Base(f.Path)+"::"+f.ArchivePath] = f.Modified
	}
	for k, want := range map[string]string{
		"epoch.o::":        "1970-01-01T00:00:00Z",
		"future.txt::":     "2446-05-10T22:38:54.123456789Z",
		"far.tar::far.txt": "10000-01-02T03:04:05.000000006Z",
	} {
		if byName[k] != want {
			t.Errorf("find --json: %s modified %q, want %q\n%s", k, byName[k], want, out)
		}
	}
}
