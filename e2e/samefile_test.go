package e2e

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestOneFileUnderTwoPaths runs issue 23's reproductions of items 1 and 2:
// a directory scanned by its real path and through a symlink, a bind mount
// scanned twice, and -L with a symlinked root holding a link to its own
// file. In each, one file is one copy: dupes lists nothing, stats counts
// nothing reclaimable, and lookup of the file finds only itself (exit 1).
func TestOneFileUnderTwoPaths(t *testing.T) {
	requireCommand(t, "dupes")
	noDupes := func(t *testing.T, c *catalog) {
		t.Helper()
		var d dupesJSON
		r := c.mustRun(0, "--json", "dupes")
		if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
			t.Fatalf("dupes --json: %v\n%s", err, r.stdout)
		}
		if len(d.Groups) != 0 || d.ReclaimableTotal != 0 {
			t.Errorf("dupes lists one file as its own duplicate:\n%s", r.stdout)
		}
		if out := c.mustRun(0, "dupes").stdout; out != "no duplicates\n" {
			t.Errorf("dupes printed %q, want \"no duplicates\"", out)
		}
		var st struct {
			Groups      int64 `json:"duplicate_groups"`
			Reclaimable int64 `json:"reclaimable_bytes"`
		}
		if err := json.Unmarshal([]byte(c.mustRun(0, "--json", "stats").stdout), &st); err != nil {
			t.Fatal(err)
		}
		if st.Groups != 0 || st.Reclaimable != 0 {
			t.Errorf("stats counts %d duplicate groups, %d bytes reclaimable; want 0, 0", st.Groups, st.Reclaimable)
		}
	}
	lookupFindsOnlyItself := func(t *testing.T, c *catalog, file string) {
		t.Helper()
		r := c.mustRun(1, "lookup", file)
		if !strings.HasPrefix(r.stdout, file+": not found\n") || !strings.Contains(r.stdout, "this file is catalogued at ") {
			t.Errorf("lookup of a file catalogued only under its own names printed:\n%s", r.stdout)
		}
	}

	t.Run("symlinked root scanned twice", func(t *testing.T) {
		dir := tempDir(t)
		f := filepath.Join(dir, "real", "sub", "f.txt")
		writeTree(t, f, "payload\n")
		must(t, os.Symlink("real", filepath.Join(dir, "link")))
		c := newCatalog(t)
		c.scan(0, filepath.Join(dir, "real"))
		c.scan(0, filepath.Join(dir, "link"))
		noDupes(t, c)
		lookupFindsOnlyItself(t, c, f)
		lookupFindsOnlyItself(t, c, filepath.Join(dir, "link", "sub", "f.txt"))
	})

	t.Run("bind mount scanned twice", func(t *testing.T) {
		dir := tempDir(t)
		f := filepath.Join(dir, "real", "sub", "f.txt")
		writeTree(t, f, "payload\n")
		mnt := filepath.Join(dir, "mnt")
		must(t, os.Mkdir(mnt, 0o755))
		if err := syscall.Mount(filepath.Join(dir, "real"), mnt, "", syscall.MS_BIND, ""); err != nil {
			if errors.Is(err, syscall.EPERM) {
				t.Skip("bind mounts need privileges this test does not have")
			}
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = syscall.Unmount(mnt, syscall.MNT_DETACH) })
		c := newCatalog(t)
		c.scan(0, filepath.Join(dir, "real"))
		c.scan(0, mnt)
		noDupes(t, c)
		lookupFindsOnlyItself(t, c, f)
	})

	t.Run("-L through a symlinked root", func(t *testing.T) {
		dir := tempDir(t)
		writeTree(t, filepath.Join(dir, "real", "sub", "f.txt"), "payload\n")
		must(t, os.Symlink("sub/f.txt", filepath.Join(dir, "real", "alias.txt")))
		must(t, os.Symlink("real", filepath.Join(dir, "link2")))
		c := newCatalog(t)
		s := c.scan(0, "-L", filepath.Join(dir, "link2"))
		if s.Added != 1 {
			t.Errorf("scan -L added %d files, want 1: the file once, not its alias", s.Added)
		}
		noDupes(t, c)
	})
}

// writeTree writes content to path, creating its directories.
func writeTree(t *testing.T, path, content string) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(path), 0o755))
	must(t, os.WriteFile(path, []byte(content), 0o644))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
