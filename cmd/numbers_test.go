package cmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestNumberStyle checks one style of numbers in text output: plurals that
// agree with their count, binary units, and duration_ms an integer in JSON.
func TestNumberStyle(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a.txt": "same", "b.txt": "same"})
	db := filepath.Join(t.TempDir(), "index.db")
	code, out, errOut := runCLI(t, "--db", db, "--machine", "box", "scan", "-q", dir)
	if code != 0 {
		t.Fatalf("scan: exit %d: %s", code, errOut)
	}
	// 8 bytes in milliseconds is no speed worth printing.
	if !strings.Contains(out, ": 2 files seen, 2 added,") || !strings.HasSuffix(out, "\nhashed 8 B\n") {
		t.Errorf("scan summary %q", out)
	}
	writeTree(t, dir, map[string]string{"c.txt": "new"})
	_, out, _ = runCLI(t, "--db", db, "--machine", "box", "scan", "-q", filepath.Join(dir, "c.txt"))
	if !strings.Contains(out, ": 1 file seen, 1 added,") {
		t.Errorf("scan summary of one file %q", out)
	}
	_, out, _ = runCLI(t, "--db", db, "dupes")
	want := "2 files of 4 B (4 bytes), 4 B reclaimable, sha256 "
	if !strings.HasPrefix(out, want) || !strings.HasSuffix(out, "\n1 group, 2 files, 4 B reclaimable (4 bytes)\n") {
		t.Errorf("dupes text %q, want it to start with %q and end with the singular total", out, want)
	}
	_, out, _ = runCLI(t, "--db", db, "stats", "--json")
	var st struct {
		Scans []map[string]json.RawMessage `json:"last_scans"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st.Scans) != 2 {
		t.Fatalf("stats --json: %v, %s", err, out)
	}
	for _, s := range st.Scans {
		if d := string(s["duration_ms"]); !regexp.MustCompile(`^[0-9]+$`).MatchString(d) {
			t.Errorf("duration_ms %s is not an integer", d)
		}
	}
	_, out, _ = runCLI(t, "--db", db, "stats")
	if !strings.Contains(out, "  1 file  ") && !strings.Contains(out, "  1 file ") {
		t.Errorf("stats text lacks the singular '1 file':\n%s", out)
	}
	_, out, _ = runCLI(t, "--db", db, "--machine", "box", "verify", "-q", "--json")
	var v map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("verify --json: %v, %s", err, out)
	}
	if d := string(v["duration_ms"]); !regexp.MustCompile(`^[0-9]+$`).MatchString(d) || v["duration_ns"] != nil {
		t.Errorf("verify --json has duration_ms %q (and duration_ns %q), want an integer duration_ms alone", d, v["duration_ns"])
	}
}

// TestRate checks the speed of text output: binary units, and nothing when
// the time is too short to measure one.
func TestRate(t *testing.T) {
	for _, c := range []struct {
		n    int64
		d    time.Duration
		want string
	}{
		{8, 5 * time.Millisecond, ""}, {3 << 20, 999 * time.Millisecond, ""}, {3 << 20, 2 * time.Second, "1.5 MiB/s"},
		{3 << 30, 2 * time.Second, "1.5 GiB/s"}, {2048, 4 * time.Second, "512 B/s"}, {0, time.Minute, "0 B/s"},
	} {
		if got := rate(c.n, c.d); got != c.want {
			t.Errorf("rate(%d, %v) = %q, want %q", c.n, c.d, got, c.want)
		}
	}
}

// TestNumberStyleEverywhere checks the numbers of health, backup, restore,
// dupes --dirs and the scan's skipped reasons: thousands separators, plurals
// that agree, binary units.
func TestNumberStyleEverywhere(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a/x.txt": "same", "b/x.txt": "same"})
	if err := os.Symlink("a", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	// The catalog inside the scanned tree: its own files are skipped.
	db := filepath.Join(dir, "index.db")
	_, out, _ := runCLI(t, "--db", db, "--machine", "box", "scan", "-q", dir)
	if !regexp.MustCompile(`\nskipped:\n  +1  symlink\n +[0-9]+  the catalog's own file\n`).MatchString(out) {
		t.Errorf("scan's skipped reasons:\n%s", out)
	}
	_, out, _ = runCLI(t, "--db", db, "health")
	if !strings.Contains(out, "2 files and 0 archive entries (0 deleted kept), 1 distinct content, 1 machine\n") ||
		!regexp.MustCompile(`size +ok +database [0-9.]+ KiB, WAL [0-9.]+ (B|KiB|MiB)\n`).MatchString(out) {
		t.Errorf("health of a small catalog:\n%s", out)
	}
	_, out, _ = runCLI(t, "--db", db, "dupes", "--dirs")
	if !strings.HasPrefix(out, "2 directories of 4 B (4 bytes) in 1 file, 4 B reclaimable, tree ") ||
		!strings.HasSuffix(out, "\n1 group, 2 directories, 4 B reclaimable (4 bytes)\n") {
		t.Errorf("dupes --dirs:\n%s", out)
	}

	// A catalog of more than a thousand files.
	big := filepath.Join(t.TempDir(), "index.db")
	backupCmdFill(t, big, "/x", "a", 1234)
	_, out, _ = runCLI(t, "--db", big, "health")
	if !strings.Contains(out, "1,234 files and 0 archive entries (0 deleted kept), 1,234 distinct contents, 1 machine\n") {
		t.Errorf("health of a larger catalog:\n%s", out)
	}
	dest := filepath.Join(t.TempDir(), "copy.db")
	_, out, _ = runCLI(t, "--db", big, "backup", dest)
	if !regexp.MustCompile(`\n  size +[0-9.]+ KiB \([0-9]{1,3}(,[0-9]{3})+ bytes\)\n  files +1,234 \(0 deleted kept\)\n  hashes +1,234\n`).MatchString(out) {
		t.Errorf("backup:\n%s", out)
	}
	code, out, errOut := runCLI(t, "--db", db, "restore", "--yes", dest)
	if code != 0 || !strings.Contains(out, ": 1,234 files (0 deleted kept), 1,234 hashes, schema version") {
		t.Errorf("restore: exit %d, stderr %q, stdout\n%s", code, errOut, out)
	}
}
