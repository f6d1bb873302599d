package cmd

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestUsageErrors proves that bad command lines exit 2 with one line naming
// the help to read, whatever words Cobra uses, and that nothing is created.
func TestUsageErrors(t *testing.T) {
	db := filepath.Join(t.TempDir(), "index.db")
	for _, args := range [][]string{
		{"bogus"},
		{"health", "extra"},
		{"lookup"},
		{"scan"},
		{"dupes", "--min-size", "lots"},
		{"--log-level", "loud", "stats"},
	} {
		code, stdout, stderr := runCLI(t, append([]string{"--db", db}, args...)...)
		if code != ExitUsage || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.HasPrefix(stderr, "indexer: ") {
			t.Errorf("%q: exit %d, stderr %q, stdout %.80q; want exit 2 and one line", args, code, stderr, stdout)
		}
	}
	if code, stdout, _ := runCLI(t); code != ExitOK || !strings.Contains(stdout, "Available Commands") {
		t.Errorf("no arguments: exit %d, want 0 and the help", code)
	}
	if matches, _ := filepath.Glob(filepath.Join(filepath.Dir(db), "*")); len(matches) != 0 {
		t.Errorf("usage errors left %v behind", matches)
	}
}
