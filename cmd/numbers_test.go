package cmd

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
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
	if !strings.Contains(out, ": 2 files seen, 2 added,") || !regexp.MustCompile(`hashed 8 B at [0-9.]+ MiB/s\n`).MatchString(out) {
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
}
