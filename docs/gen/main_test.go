package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestReferenceCurrent fails when docs/cli is not what the command tree
// generates: a page differs, is missing, or is left over from a command
// that is gone. Run `go run ./docs/gen` to bring it up to date.
func TestReferenceCurrent(t *testing.T) {
	// The pages must not depend on who generates them.
	t.Setenv("INDEXER_DB", "")
	t.Setenv("INDEXER_MACHINE", "")
	want := t.TempDir()
	if err := generate(want); err != nil {
		t.Fatal(err)
	}
	committed := filepath.Join("..", "cli")
	wantNames, gotNames := mdNames(t, want), mdNames(t, committed)
	for _, name := range wantNames {
		if !slices.Contains(gotNames, name) {
			t.Errorf("docs/cli/%s is missing; run go run ./docs/gen", name)
			continue
		}
		w, _ := os.ReadFile(filepath.Join(want, name))
		g, _ := os.ReadFile(filepath.Join(committed, name))
		if !bytes.Equal(w, g) {
			t.Errorf("docs/cli/%s is out of date; run go run ./docs/gen", name)
		}
	}
	for _, name := range gotNames {
		if !slices.Contains(wantNames, name) {
			t.Errorf("docs/cli/%s documents no command; run go run ./docs/gen", name)
		}
	}
	// Every command has its page, completion included.
	for _, name := range []string{"indexer.md", "indexer_scan.md", "indexer_dupes.md", "indexer_restore.md", "indexer_completion_bash.md", "indexer_completion_zsh.md", "indexer_completion_fish.md"} {
		if !slices.Contains(wantNames, name) {
			t.Errorf("the reference has no %s: %v", name, wantNames)
		}
	}
}

// TestReferenceIndependentOfMachine: the generated pages hold neither this
// machine's host name nor its home directory.
func TestReferenceIndependentOfMachine(t *testing.T) {
	dir := t.TempDir()
	if err := generate(dir); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	home, _ := os.UserHomeDir()
	for _, name := range mdNames(t, dir) {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		for _, s := range []string{`"` + host + `"`, home + "/"} {
			if len(s) > 3 && strings.Contains(string(b), s) {
				t.Errorf("%s holds %q, which depends on the machine", name, s)
			}
		}
	}
}

func mdNames(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range names {
		names[i] = filepath.Base(n)
	}
	return names
}

// mdLink is a Markdown link's target: [text](target).
var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestDocsLinks: every relative link in README.md and docs/ leads to a file
// that exists, and the README stays a start (under 250 lines), not a manual.
func TestDocsLinks(t *testing.T) {
	pages, err := filepath.Glob(filepath.Join("..", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	pages = append(pages, filepath.Join("..", "..", "README.md"), filepath.Join("..", "..", "testdata", "README.md"))
	for _, page := range pages {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mdLink.FindAllStringSubmatch(string(b), -1) {
			target, _, _ := strings.Cut(m[1], "#")
			if target == "" || strings.Contains(target, "://") {
				continue
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(page), target)); err != nil {
				t.Errorf("%s links to %s: %v", page, m[1], err)
			}
		}
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(readme), "\n"); n >= 250 {
		t.Errorf("README.md has %d lines; keep it under 250 and move reference material to docs/", n)
	}
}
