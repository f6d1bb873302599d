package cmd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnknownURLSchemeRefused gives every command a --db (and INDEXER_DB)
// that looks like a URL of a scheme indexer does not know: each exits 1
// with one sentence naming the scheme, without the password, and nothing is
// created, neither in the current directory (where a folder "mysql:" used to
// appear) nor in HOME.
func TestUnknownURLSchemeRefused(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("HOME", dir)
	t.Setenv("XDG_DATA_HOME", "")
	tree := t.TempDir()
	if err := os.WriteFile(filepath.Join(tree, "a.txt"), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	commands := [][]string{
		{"scan", tree}, {"health"}, {"stats"}, {"dupes"}, {"find", "a"}, {"lookup", "a.txt"},
		{"forget", "--deleted"}, {"backup"}, {"restore", "--yes", filepath.Join(tree, "a.txt")},
	}
	for _, url := range []string{"mysql://me:secret@db.example/index", "postgress://me:secret@localhost/index", "FILE:///tmp/index.db"} {
		scheme := strings.ToLower(url[:strings.Index(url, ":")])
		for _, args := range commands {
			code, stdout, stderr := runCLI(t, append([]string{"--db", url}, args...)...)
			// health reports on stdout, as for any catalog it cannot open;
			// lookup exits 2 for a catalog it cannot read (1 is "not found").
			msg, want := stderr, ExitError
			switch args[0] {
			case "health":
				msg = stdout
			case "lookup":
				want = ExitUsage
			}
			if code != want || !strings.Contains(msg, `scheme "`+scheme+`"`) || strings.Contains(stdout+stderr, "secret") ||
				(args[0] != "health" && strings.Count(strings.TrimSpace(stderr), "\n") != 0) {
				t.Errorf("--db %s %q: exit %d, stdout %q, stderr %q; want exit %d and one sentence naming the scheme, without the password", url, args, code, stdout, stderr, want)
			}
		}
		// runCLI clears INDEXER_DB; the flag's default reads it when the
		// root command is made.
		t.Setenv("INDEXER_DB", url)
		var out, errb bytes.Buffer
		root, _ := NewRoot(&out, &errb)
		if code, stderr := run(t.Context(), root, []string{"stats"}, &errb), errb.String(); code != ExitError || !strings.Contains(stderr, `scheme "`+scheme+`"`) {
			t.Errorf("INDEXER_DB=%s stats: exit %d, stderr %q", url, code, stderr)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("refused URLs left %v behind", names)
	}
}
