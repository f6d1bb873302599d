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
	if code != ExitOK || stderr != "" || !slices.Equal(names, []string{"open", "schema", "server", "latency", "pools", "counts", "indexes", "last_scan", "verification"}) {
		t.Errorf("health: exit %d, stderr %q, checks %v", code, stderr, names)
	}
	if v, _ := h.Facts["server_version"].(string); v == "" {
		t.Errorf("health facts %v lack the server version", h.Facts)
	}
}

// TestPostgresBackupRestore backs a PostgreSQL catalog up into a SQLite
// file, which opens as a catalog of its own with the same answers, restores
// that file into another PostgreSQL database, empty then not (its rows are
// saved first), and refuses a source that is no catalog without changing
// anything.
func TestPostgresBackupRestore(t *testing.T) {
	one, two := pgtest.URL(t), pgtest.URL(t)
	tree := t.TempDir()
	for _, p := range []string{"a/x.txt", "b/x.txt", "b/caf\xe9", "c/new\nline"} {
		if err := os.MkdirAll(filepath.Join(tree, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tree, p), []byte("same"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if code, _, stderr := runCLI(t, "--db", one, "scan", tree); code != ExitOK {
		t.Fatalf("scan: exit %d: %s", code, stderr)
	}
	answers := func(db string) string {
		t.Helper()
		var all string
		for _, q := range [][]string{{"dupes", "-0"}, {"find", "-0", "--under", tree}, {"stats", "--json"}} {
			code, out, stderr := runCLI(t, append([]string{"--db", db}, q...)...)
			if code != ExitOK {
				t.Fatalf("%s %q: exit %d: %s", db, q, code, stderr)
			}
			if q[0] == "stats" { // the scans' times and ids are the catalog's own
				out = strings.Split(out, `"scans"`)[0]
			}
			all += out
		}
		return all
	}
	want := answers(one)

	dir := t.TempDir()
	if code, _, stderr := runCLI(t, "--db", one, "backup"); code != ExitError || !strings.Contains(stderr, "name the backup file") {
		t.Errorf("backup without DEST: exit %d, %q; want 1 and a request for DEST", code, stderr)
	}
	backup := filepath.Join(dir, "shared.db")
	if code, _, stderr := runCLI(t, "--db", one, "backup", backup); code != ExitOK {
		t.Fatalf("backup: exit %d: %s", code, stderr)
	}
	if got := answers(backup); got != want {
		t.Errorf("the SQLite backup answers\n%q\nthe PostgreSQL catalog\n%q", got, want)
	}

	if code, out, stderr := runCLI(t, "--db", two, "restore", "--yes", backup); code != ExitOK || !strings.Contains(out, "no safety backup was needed") {
		t.Fatalf("restore into an empty database: exit %d, %q, %s", code, out, stderr)
	}
	if got := answers(two); got != want {
		t.Errorf("the restored catalog answers\n%q\nwant\n%q", got, want)
	}
	if code, _, stderr := runCLI(t, "--db", two, "scan", "--machine", "other", tree); code != ExitOK {
		t.Fatalf("scan after restore: exit %d: %s", code, stderr)
	}
	if code, out, stderr := runCLI(t, "--db", two, "restore", "--yes", backup); code != ExitOK || !strings.Contains(out, "-pre-restore.db") {
		t.Fatalf("restore over rows: exit %d, %q, %s", code, out, stderr)
	}
	saved, _ := filepath.Glob(filepath.Join(dir, "*-pre-restore.db"))
	if len(saved) != 1 {
		t.Fatalf("safety backups %v, want one beside the source", saved)
	}
	if code, out, _ := runCLI(t, "--db", saved[0], "stats", "--json"); code != ExitOK || !strings.Contains(out, `"other"`) {
		t.Errorf("the safety backup lacks the rows it replaced: exit %d, %.300q", code, out)
	}
	if got := answers(two); got != want {
		t.Errorf("after a second restore the catalog answers\n%q\nwant\n%q", got, want)
	}

	notCatalog := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notCatalog, []byte("not a catalog"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI(t, "--db", two, "restore", "--yes", notCatalog); code != ExitError || !strings.Contains(stderr, "cannot restore from") {
		t.Errorf("restore from a text file: exit %d, %q", code, stderr)
	}
	if got := answers(two); got != want {
		t.Errorf("a refused restore changed the catalog")
	}
}
