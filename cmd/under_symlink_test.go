package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnderThroughSymlink checks that a --under path (or a dupes PATH)
// reached through a symlink to a scanned root is resolved: the catalog holds
// the files under their real names, so the answer lists them and nothing on
// stderr claims the path was never scanned.
func TestUnderThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	writeTree(t, root, map[string]string{"src/a.txt": "same", "src/b.txt": "same"})
	link := filepath.Join(dir, "golink")
	if err := os.Symlink(root, link); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "index.db")
	if code, _, errOut := runCLI(t, "--db", db, "--machine", "box", "scan", "-q", root); code != 0 {
		t.Fatalf("scan: exit %d: %s", code, errOut)
	}
	a, b := filepath.Join(root, "src", "a.txt"), filepath.Join(root, "src", "b.txt")
	under := filepath.Join(link, "src")
	for _, args := range [][]string{
		{"find", "--under", under, "--format", "paths"},
		{"dupes", "--format", "fdupes", under},
		{"dupes", "--format", "fdupes", "--under", under},
		{"dupes", "--dirs", "--under", link},
		{"diff", "--under", under},
	} {
		code, out, errOut := runCLI(t, append([]string{"--db", db, "--machine", "box"}, args...)...)
		if code != 0 || errOut != "" {
			t.Errorf("%q: exit %d, stderr %q", args, code, errOut)
		}
		if args[0] != "diff" && args[1] != "--dirs" && (!strings.Contains(out, a+"\n") || !strings.Contains(out, b+"\n")) {
			t.Errorf("%q listed %q, want %s and %s", args, out, a, b)
		}
	}
	// A symlink to a place no root covers is still said to be uncovered.
	elsewhere := filepath.Join(dir, "elsewhere")
	if err := os.Symlink(t.TempDir(), elsewhere); err != nil {
		t.Fatal(err)
	}
	if _, _, errOut := runCLI(t, "--db", db, "find", "--under", elsewhere); !strings.Contains(errOut, "is not under any scanned root") {
		t.Errorf("find --under a symlink to an unscanned place: stderr %q", errOut)
	}
}
