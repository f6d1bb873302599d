package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHardLinks catalogues two names of one inode, next to a true copy of
// the same content and a pair of names that are only links: both names are
// recorded, and dupes shows the linked names but counts as reclaimable only
// the space a real copy takes.
func TestHardLinks(t *testing.T) {
	root := filepath.Join(tempDir(t), "links")
	x := bytes.Repeat([]byte("content with a copy and a link\n"), 1000)
	y := bytes.Repeat([]byte("content with links only\n"), 500)
	write := func(name string, content []byte) string {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	link := func(from, name string) string {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Link(from, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	x1 := write("x/original", x)
	x1l := link(x1, "elsewhere/x-second-name")
	x2 := write("x/copy", x)
	y1 := write("y/original", y)
	y1l := link(y1, "y/second-name")

	c := newCatalog(t)
	s := c.scan(0, root)
	if s.Added != 5 {
		t.Fatalf("scan added %d files, want 5 (every name of every inode): %+v", s.Added, s)
	}
	assertCatalog(t, c.path, treeFiles(t, root))

	requireCommand(t, "dupes")
	r := c.mustRun(0, "--json", "dupes")
	var d dupesJSON
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("dupes --json: %v\n%s", err, r.stdout)
	}
	groups := map[string][]string{}
	linked := map[string]bool{}
	reclaim, copies := map[string]int64{}, map[string]int{}
	for _, g := range d.Groups {
		for _, f := range g.Files {
			groups[g.SHA256] = append(groups[g.SHA256], f.Path)
			linked[f.Path] = f.Linked
		}
		reclaim[g.SHA256], copies[g.SHA256] = g.Reclaimable, g.Copies
	}
	sx, sy := sha256Of(t, x1), sha256Of(t, y1)
	if got, want := groups[sx], []string{x1l, x2, x1}; !samePaths(got, want) {
		t.Errorf("group of x: %q, want %q", got, want)
	}
	// Shown as linked: the two names of one inode, and not the copy.
	if !linked[x1] || !linked[x1l] || linked[x2] {
		t.Errorf("linked marks: original %v, its link %v, the copy %v; want true, true, false", linked[x1], linked[x1l], linked[x2])
	}
	// One copy of x can go; the linked name frees nothing.
	if reclaim[sx] != int64(len(x)) || copies[sx] != 2 {
		t.Errorf("group of x: reclaimable %d over %d copies, want %d over 2 (the copy only)", reclaim[sx], copies[sx], len(x))
	}
	if g, ok := groups[sy]; ok && (reclaim[sy] != 0 || !samePaths(g, []string{y1, y1l})) {
		t.Errorf("group of y (links only): %q reclaimable %d, want both names and 0", g, reclaim[sy])
	}
	if d.ReclaimableTotal != int64(len(x)) {
		t.Errorf("reclaimable_total %d, want %d", d.ReclaimableTotal, len(x))
	}

	// The readable listing marks the linked names too.
	text := c.mustRun(0, "dupes").stdout
	for _, p := range []string{x1, x1l} {
		if !lineWith(text, p, "[linked") {
			t.Errorf("dupes does not mark %s as linked:\n%s", p, text)
		}
	}
	if lineWith(text, x2, "[linked") {
		t.Errorf("dupes marks the copy %s as linked:\n%s", x2, text)
	}
}

// lineWith reports whether a line of text contains both path and word.
func lineWith(text, path, word string) bool {
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, path) && strings.Contains(l, word) {
			return true
		}
	}
	return false
}

// sha256Of returns the sha256 of the file at p, failing the test on error.
func sha256Of(t testing.TB, p string) string {
	t.Helper()
	s, err := sha256File(p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// samePaths reports whether got and want hold the same paths, in any order.
func samePaths(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	m := map[string]int{}
	for _, p := range got {
		m[p]++
	}
	for _, p := range want {
		m[p]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}
