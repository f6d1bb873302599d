package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// write creates path (and its directories) holding content.
func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func link(t *testing.T, target, path string) {
	t.Helper()
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
}

// as returns entries mapping each path to the sha256 of the file at real
// (path and real alternate).
func as(t *testing.T, pairs ...string) entries {
	t.Helper()
	out := entries{}
	for i := 0; i < len(pairs); i += 2 {
		sum, err := sha256File(pairs[i+1])
		if err != nil {
			t.Fatal(err)
		}
		out[pairs[i]] = sum
	}
	return out
}

// skipReasons returns a scan's skips by path.
func skipReasons(s scanSummary) map[string]string {
	out := map[string]string{}
	for _, sk := range s.Skips {
		out[sk.Path] = sk.Reason
	}
	return out
}

// mountTmpfs mounts a small tmpfs on dir for the test; it needs root, and
// is skipped without it unless CI=true (CI runs as root).
func mountTmpfs(t *testing.T, dir string) {
	t.Helper()
	if os.Geteuid() != 0 && os.Getenv("CI") != "true" {
		t.Skip("needs root, to mount a tmpfs")
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m,mode=0755", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount a tmpfs on %s: %v: %s", dir, err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
}

// TestNamedPathsAreWalked: issue 23, item 3. A PATH named on the command
// line is walked, whatever the other PATHs, --exclude and -x say.
func TestNamedPathsAreWalked(t *testing.T) {
	t.Run("a symlink below another PATH", func(t *testing.T) {
		d := tempDir(t)
		top, ext := filepath.Join(d, "top"), filepath.Join(d, "ext")
		write(t, filepath.Join(ext, "e"), "e")
		write(t, filepath.Join(top, "t"), "t")
		link(t, "../ext", filepath.Join(top, "extlink"))
		c := newCatalog(t)
		s := c.scan(0, top, filepath.Join(top, "extlink"))
		if s.Status != "complete" || s.Skipped != 0 {
			t.Fatalf("status %s, skips %v", s.Status, s.Skips)
		}
		assertCatalog(t, c.path, as(t, filepath.Join(top, "t"), filepath.Join(top, "t"),
			filepath.Join(top, "extlink", "e"), filepath.Join(ext, "e")))
	})
	t.Run("an excluded directory named as a PATH", func(t *testing.T) {
		src := filepath.Join(tempDir(t), "src")
		write(t, filepath.Join(src, "main.go"), "main")
		write(t, filepath.Join(src, "node_modules", "m.js"), "m")
		write(t, filepath.Join(src, "lib", "node_modules", "l.js"), "l")
		c := newCatalog(t)
		s := c.scan(0, "-e", "node_modules", src, filepath.Join(src, "node_modules"))
		if got := skipReasons(s); len(got) != 1 || got[filepath.Join(src, "lib", "node_modules")] != "excluded" {
			t.Errorf("skips %v: want only lib/node_modules excluded", got)
		}
		assertCatalog(t, c.path, as(t, filepath.Join(src, "main.go"), filepath.Join(src, "main.go"),
			filepath.Join(src, "node_modules", "m.js"), filepath.Join(src, "node_modules", "m.js")))
	})
	t.Run("a PATH on another file system with -x", func(t *testing.T) {
		top := filepath.Join(tempDir(t), "top")
		mnt := filepath.Join(top, "home")
		write(t, filepath.Join(top, "t"), "t")
		if err := os.Mkdir(mnt, 0o755); err != nil {
			t.Fatal(err)
		}
		mountTmpfs(t, mnt)
		write(t, filepath.Join(mnt, "h"), "h")
		c := newCatalog(t)
		s := c.scan(0, "-x", top, mnt)
		if s.Status != "complete" || s.Skipped != 0 {
			t.Fatalf("status %s, skips %v", s.Status, s.Skips)
		}
		assertCatalog(t, c.path, as(t, filepath.Join(top, "t"), filepath.Join(top, "t"), filepath.Join(mnt, "h"), filepath.Join(mnt, "h")))
	})
}

// TestSkippedSymlinkKeepsRows: issue 23, item 4. Files found through a
// symlink named as a PATH do not become DEL when a scan of the directory
// holding the link skips it.
func TestSkippedSymlinkKeepsRows(t *testing.T) {
	d := tempDir(t)
	top, ext := filepath.Join(d, "top"), filepath.Join(d, "ext")
	write(t, filepath.Join(ext, "e"), "e")
	write(t, filepath.Join(top, "t"), "t")
	extlink := filepath.Join(top, "extlink")
	link(t, "../ext", extlink)
	c := newCatalog(t)
	c.scan(0, extlink)
	s := c.scan(0, top)
	if s.Deleted != 0 || skipReasons(s)[extlink] != "symlink" {
		t.Fatalf("deleted %d, skips %v: want nothing DEL, extlink skipped as a symlink", s.Deleted, s.Skips)
	}
	assertCatalog(t, c.path, as(t, filepath.Join(extlink, "e"), filepath.Join(ext, "e"), filepath.Join(top, "t"), filepath.Join(top, "t")))
}

// TestUserFilesNamedLikeTheCatalog: issue 23, item 5. Only the catalog's
// own files are skipped, not files whose names start like it.
func TestUserFilesNamedLikeTheCatalog(t *testing.T) {
	home := filepath.Join(tempDir(t), "home")
	write(t, filepath.Join(home, "photos-2019", "a.jpg"), "p")
	write(t, filepath.Join(home, "photos.txt"), "notes")
	c := &catalog{t: t, path: filepath.Join(home, "photos")}
	s := c.scan(0, home)
	want := map[string]string{}
	for _, own := range []string{"", "-wal", "-shm", ".lock"} {
		want[c.path+own] = "the catalog's own file"
	}
	if got := skipReasons(s); len(got) != len(want) {
		t.Errorf("skips %v, want %v", got, want)
	}
	for p, r := range want {
		if got := skipReasons(s)[p]; got != r {
			t.Errorf("%s: skip %q, want %q", p, got, r)
		}
	}
	a, notes := filepath.Join(home, "photos-2019", "a.jpg"), filepath.Join(home, "photos.txt")
	assertCatalog(t, c.path, as(t, a, a, notes, notes))
}

// TestFollowTwoLinksToOneDirectory: issue 23, item 12. With -L, a/, b -> a
// and c -> a: a is walked under its own name, b and c are "directory
// already walked", and nothing loops.
func TestFollowTwoLinksToOneDirectory(t *testing.T) {
	top := filepath.Join(tempDir(t), "top")
	// Links first: many file systems list a directory in creation order.
	if err := os.Mkdir(top, 0o755); err != nil {
		t.Fatal(err)
	}
	link(t, "a", filepath.Join(top, "c"))
	link(t, "a", filepath.Join(top, "b"))
	write(t, filepath.Join(top, "a", "q"), "q")
	c := newCatalog(t)
	s := c.scan(0, "-L", top)
	want := map[string]string{filepath.Join(top, "b"): "directory already walked", filepath.Join(top, "c"): "directory already walked"}
	if got := skipReasons(s); len(got) != len(want) || got[filepath.Join(top, "b")] != want[filepath.Join(top, "b")] ||
		got[filepath.Join(top, "c")] != want[filepath.Join(top, "c")] {
		t.Errorf("skips %v, want %v", got, want)
	}
	q := filepath.Join(top, "a", "q")
	assertCatalog(t, c.path, as(t, q, q))
}
