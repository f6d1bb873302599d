package cmd

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/pgtest"
)

// TestPostgresCommands runs the commands on a PostgreSQL catalog, as a user
// would: a scan of a tree with a duplicate under a name that is not UTF-8,
// then dupes, find, lookup, stats and health, which reports the server in
// place of the file checks. A query on an empty database creates nothing.
func TestPostgresCommands(t *testing.T) {
	url := pgtest.URL(t)
	if code, _, stderr := runCLI(t, "--db", url, "stats"); code != ExitError || !strings.Contains(stderr, "no catalog") {
		t.Errorf("stats on an empty database: exit %d, stderr %q; want 1 and no catalog", code, stderr)
	}
	tree := t.TempDir()
	odd := "caf\xe9.txt"
	for _, p := range []string{"a/x.txt", "b/" + odd} {
		if err := os.MkdirAll(filepath.Join(tree, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tree, p), []byte("same"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if code, _, stderr := runCLI(t, "--db", url, "scan", tree); code != ExitOK {
		t.Fatalf("scan: exit %d: %s", code, stderr)
	}
	code, out, stderr := runCLI(t, "--db", url, "dupes", "-0")
	files := strings.Split(strings.TrimRight(out, "\x00"), "\x00")
	want := []string{filepath.Join(tree, "a/x.txt"), filepath.Join(tree, "b", odd)}
	if code != ExitOK || !slices.Equal(files, want) {
		t.Errorf("dupes -0: exit %d, %q, stderr %q; want %q", code, files, stderr, want)
	}
	if code, out, _ := runCLI(t, "--db", url, "find", "-0", "-i", "CAF*"); code != ExitOK || out != filepath.Join(tree, "b", odd)+"\x00" {
		t.Errorf("find -0 -i CAF*: exit %d, %q", code, out)
	}
	if code, out, _ := runCLI(t, "--db", url, "lookup", filepath.Join(tree, "a/x.txt")); code != ExitOK || !strings.Contains(out, "found in 1 place") {
		t.Errorf("lookup: exit %d, %q", code, out)
	}
	if code, out, _ := runCLI(t, "--db", url, "stats"); code != ExitOK || !strings.Contains(out, "duplicate groups   1") {
		t.Errorf("stats: exit %d, %q", code, out)
	}
	code, out, stderr = runCLI(t, "--db", url, "health", "--json")
	h := healthJSON(t, out)
	var names []string
	for _, c := range h.Checks {
		names = append(names, c.Name)
		if c.Status != dto.StatusOK {
			t.Errorf("check %s = %s (%s); want ok", c.Name, c.Status, c.Detail)
		}
	}
	if code != ExitOK || stderr != "" || !slices.Equal(names, []string{"open", "schema", "server", "latency", "pools", "counts", "indexes", "last_scan"}) {
		t.Errorf("health: exit %d, stderr %q, checks %v", code, stderr, names)
	}
	if v, _ := h.Facts["server_version"].(string); v == "" {
		t.Errorf("health facts %v lack the server version", h.Facts)
	}
}
