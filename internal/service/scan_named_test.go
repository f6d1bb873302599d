package service

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/walk"
)

// mountTmpfs mounts a small tmpfs on dir for the test. Mounting needs root:
// without it the test is skipped, except under CI=true (CI runs as root),
// where not being able to mount fails it.
func mountTmpfs(t *testing.T, dir string) {
	t.Helper()
	if os.Geteuid() != 0 && os.Getenv("CI") != "true" {
		t.Skip("needs root, to mount a tmpfs")
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=4m,mode=0755"); err != nil {
		t.Fatalf("mount a tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
}

// bindMount mounts dir src on dir dst for the test (see mountTmpfs).
func bindMount(t *testing.T, src, dst string) {
	t.Helper()
	if os.Geteuid() != 0 && os.Getenv("CI") != "true" {
		t.Skip("needs root, to bind-mount a directory")
	}
	if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind-mount %s on %s: %v", src, dst, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dst, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dst, err)
		}
	})
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// present returns the paths of rows not DEL, relative to dir, sorted.
func presentPaths(t *testing.T, c *Catalog, dir string) []string {
	t.Helper()
	var out []string
	for p, r := range dumpFiles(t, c) {
		if r.Op != string(dto.OpDel) {
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, rel)
		}
	}
	slices.Sort(out)
	return out
}

// skipsOf returns a report's skips by path relative to dir.
func skipsOf(t *testing.T, rep ScanReport, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, s := range rep.Skips {
		rel, err := filepath.Rel(dir, s.Path)
		if err != nil {
			t.Fatal(err)
		}
		out[rel] = s.Reason
	}
	return out
}

// TestScanNamedPathsAreWalked: a PATH named on the command line is walked,
// whatever another PATH above it, --exclude and -x would do with it in the
// walk of that other PATH; and a file gone below it becomes DEL even though
// it lies below something the outer walk skipped.
func TestScanNamedPathsAreWalked(t *testing.T) {
	t.Run("a symlink below another PATH", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "top", "t"), []byte("t"))
		writeFile(t, filepath.Join(dir, "ext", "e"), []byte("e"))
		symlink(t, "../ext", filepath.Join(dir, "top", "extlink"))
		c := openTestCatalog(t)
		top := filepath.Join(dir, "top")
		rep := mustScan(t, c, []string{top, filepath.Join(top, "extlink")}, ScanOptions{})
		if rep.Status != dto.ScanComplete || len(rep.Skips) != 0 {
			t.Fatalf("status %s, skips %v: want complete, nothing skipped", rep.Status, rep.Skips)
		}
		if got, want := presentPaths(t, c, dir), []string{"top/extlink/e", "top/t"}; !slices.Equal(got, want) {
			t.Fatalf("indexed %q, want %q", got, want)
		}
	})
	t.Run("an excluded directory named as a PATH", func(t *testing.T) {
		dir := t.TempDir()
		src := filepath.Join(dir, "src")
		for _, f := range []string{"main.go", "node_modules/m.js", "node_modules/gone.js", "node_modules/dep/node_modules/n.js", "lib/node_modules/l.js"} {
			writeFile(t, filepath.Join(src, f), []byte(f))
		}
		c := openTestCatalog(t)
		roots := []string{src, filepath.Join(src, "node_modules")}
		opts := ScanOptions{Exclude: []string{"node_modules"}}
		rep := mustScan(t, c, roots, opts)
		if got, want := presentPaths(t, c, src), []string{"main.go", "node_modules/gone.js", "node_modules/m.js"}; !slices.Equal(got, want) {
			t.Fatalf("indexed %q, want %q", got, want)
		}
		// Below the named PATH, the pattern applies as anywhere else.
		want := map[string]string{"lib/node_modules": walk.ReasonExcluded, "node_modules/dep/node_modules": walk.ReasonExcluded}
		if got := skipsOf(t, rep, src); !equalMaps(got, want) {
			t.Errorf("skips %v, want %v", got, want)
		}
		if err := os.Remove(filepath.Join(src, "node_modules", "gone.js")); err != nil {
			t.Fatal(err)
		}
		rep = mustScan(t, c, roots, opts)
		if rep.Counts.Deleted != 1 || dumpFiles(t, c)[filepath.Join(src, "node_modules", "gone.js")].Op != string(dto.OpDel) {
			t.Fatalf("counts %+v: want gone.js DEL: the PATH that held it was walked", rep.Counts)
		}
	})
	t.Run("a PATH on another file system with -x", func(t *testing.T) {
		dir := t.TempDir()
		top := filepath.Join(dir, "top")
		mnt := filepath.Join(top, "mnt")
		writeFile(t, filepath.Join(top, "t"), []byte("t"))
		if err := os.Mkdir(mnt, 0o755); err != nil {
			t.Fatal(err)
		}
		mountTmpfs(t, mnt)
		writeFile(t, filepath.Join(mnt, "m"), []byte("m"))
		writeFile(t, filepath.Join(mnt, "gone"), []byte("gone"))
		c := openTestCatalog(t)
		opts := ScanOptions{OneFileSystem: true}
		// Alone, top does not enter the other file system.
		rep := mustScan(t, c, []string{top}, opts)
		if got := skipsOf(t, rep, top); got["mnt"] != walk.ReasonOtherFS {
			t.Fatalf("skips %v: want mnt %q", got, walk.ReasonOtherFS)
		}
		rep = mustScan(t, c, []string{top, mnt}, opts)
		if rep.Status != dto.ScanComplete || len(rep.Skips) != 0 {
			t.Fatalf("status %s, skips %v: want complete, nothing skipped", rep.Status, rep.Skips)
		}
		if got, want := presentPaths(t, c, top), []string{"mnt/gone", "mnt/m", "t"}; !slices.Equal(got, want) {
			t.Fatalf("indexed %q, want %q", got, want)
		}
		if err := os.Remove(filepath.Join(mnt, "gone")); err != nil {
			t.Fatal(err)
		}
		if rep = mustScan(t, c, []string{top, mnt}, opts); rep.Counts.Deleted != 1 {
			t.Fatalf("counts %+v: want mnt/gone DEL", rep.Counts)
		}
		// Without mnt named, its rows are kept: top's walk did not enter it.
		if rep = mustScan(t, c, []string{top}, opts); rep.Counts.Deleted != 0 {
			t.Fatalf("counts %+v: want nothing DEL below a directory on another file system", rep.Counts)
		}
	})
	t.Run("a PATH reached first by the walk of another", func(t *testing.T) {
		// top/bind is a bind mount of top/sub: the same directory, which
		// the walk of top meets (as "bind") before it would meet "sub".
		dir := t.TempDir()
		top := filepath.Join(dir, "top")
		writeFile(t, filepath.Join(top, "sub", "s"), []byte("s"))
		if err := os.Mkdir(filepath.Join(top, "bind"), 0o755); err != nil {
			t.Fatal(err)
		}
		bindMount(t, filepath.Join(top, "sub"), filepath.Join(top, "bind"))
		c := openTestCatalog(t)
		rep := mustScan(t, c, []string{top, filepath.Join(top, "sub")}, ScanOptions{})
		if got, want := presentPaths(t, c, top), []string{"sub/s"}; !slices.Equal(got, want) {
			t.Fatalf("indexed %q, want %q", got, want)
		}
		if got, want := skipsOf(t, rep, top), map[string]string{"bind": walk.ReasonSeen}; !equalMaps(got, want) {
			t.Fatalf("skips %v, want %v", got, want)
		}
	})
}

// TestScanKeepsRowsBelowSkippedSymlinks: rows found through a symlink (named
// as a PATH, or followed) stay when a later scan skips that symlink, unless
// --exclude matched it: then they are DEL, as excluded.
func TestScanKeepsRowsBelowSkippedSymlinks(t *testing.T) {
	dir := t.TempDir()
	top := filepath.Join(dir, "top")
	writeFile(t, filepath.Join(top, "t"), []byte("t"))
	writeFile(t, filepath.Join(dir, "ext", "e"), []byte("e"))
	writeFile(t, filepath.Join(dir, "file"), []byte("file"))
	extlink, filelink := filepath.Join(top, "extlink"), filepath.Join(top, "filelink")
	symlink(t, "../ext", extlink)
	symlink(t, "../file", filelink)
	c := openTestCatalog(t)
	mustScan(t, c, []string{extlink, filelink}, ScanOptions{})
	want := []string{"top/extlink/e", "top/filelink", "top/t"}
	rep := mustScan(t, c, []string{top}, ScanOptions{})
	if rep.Counts.Deleted != 0 {
		t.Errorf("%d rows DEL, want none: the symlinks were not walked through", rep.Counts.Deleted)
	}
	if got := presentPaths(t, c, dir); !slices.Equal(got, want) {
		t.Fatalf("present %q, want %q", got, want)
	}
	// Followed, the link is walked through: what is gone behind it is DEL.
	if err := os.Remove(filepath.Join(dir, "ext", "e")); err != nil {
		t.Fatal(err)
	}
	rep = mustScan(t, c, []string{top}, ScanOptions{FollowSymlinks: true})
	if rep.Counts.Deleted != 1 || dumpFiles(t, c)[filepath.Join(extlink, "e")].Op != string(dto.OpDel) {
		t.Fatalf("counts %+v: want extlink/e DEL", rep.Counts)
	}
	// Excluded, a symlink takes along the rows found through it.
	writeFile(t, filepath.Join(dir, "ext", "f"), []byte("f"))
	mustScan(t, c, []string{top}, ScanOptions{FollowSymlinks: true})
	rep = mustScan(t, c, []string{top}, ScanOptions{Exclude: []string{"*link"}})
	if rep.Counts.Deleted != 0 || rep.ExcludedGone != 2 {
		t.Errorf("excluded links: %d deleted, %d excluded rows marked gone; want 0 and 2 (extlink/f, filelink)", rep.Counts.Deleted, rep.ExcludedGone)
	}
	if got, want := presentPaths(t, c, dir), []string{"top/t"}; !slices.Equal(got, want) {
		t.Errorf("present %q, want %q", got, want)
	}
}

// TestScanCatalogNamePrefix: a user's files whose names start like the
// catalog's are not the catalog's own.
func TestScanCatalogNamePrefix(t *testing.T) {
	home := t.TempDir()
	c := openCatalogAt(t, filepath.Join(home, "photos"))
	writeFile(t, filepath.Join(home, "photos-2019", "a.jpg"), []byte("a"))
	writeFile(t, filepath.Join(home, "photos.old"), []byte("old"))
	writeFile(t, filepath.Join(home, "backups", "photos-1.db"), []byte("backup"))
	rep := mustScan(t, c, []string{home}, ScanOptions{})
	if got, want := presentPaths(t, c, home), []string{"photos-2019/a.jpg", "photos.old"}; !slices.Equal(got, want) {
		t.Fatalf("indexed %q, want %q", got, want)
	}
	want := map[string]string{"photos": walk.ReasonCatalog, "photos-wal": walk.ReasonCatalog,
		"photos-shm": walk.ReasonCatalog, "photos.lock": walk.ReasonCatalog, "backups": walk.ReasonCatalog}
	if got := skipsOf(t, rep, home); !equalMaps(got, want) {
		t.Fatalf("skips %v, want %v", got, want)
	}
}

// TestScanFollowTwoLinksToOneDirectory: with -L, a directory reached again
// through a symlink is "already walked", whatever order the directory lists
// its entries in; it is named by its own path where it has one, else by the
// first link in sorted order; only a link to a directory above it loops.
func TestScanFollowTwoLinksToOneDirectory(t *testing.T) {
	// The entries are created in several orders: most file systems list a
	// directory in an order that depends on it.
	for _, order := range [][]string{{"a", "b", "c"}, {"c", "b", "a"}, {"b", "a", "c"}} {
		t.Run(order[0]+order[1]+order[2], func(t *testing.T) {
			dir := t.TempDir()
			top := filepath.Join(dir, "top")
			if err := os.Mkdir(top, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, name := range order {
				if name == "a" {
					writeFile(t, filepath.Join(top, "a", "q"), []byte("q"))
					symlink(t, "..", filepath.Join(top, "a", "up"))
					continue
				}
				symlink(t, "a", filepath.Join(top, name))
			}
			// 0 and z are one directory outside top, reached only by links.
			writeFile(t, filepath.Join(dir, "ext", "x"), []byte("x"))
			symlink(t, "../ext", filepath.Join(top, "z"))
			symlink(t, "../ext", filepath.Join(top, "0"))
			c := openTestCatalog(t)
			rep := mustScan(t, c, []string{top}, ScanOptions{FollowSymlinks: true})
			if got, want := presentPaths(t, c, top), []string{"0/x", "a/q"}; !slices.Equal(got, want) {
				t.Errorf("indexed %q, want %q", got, want)
			}
			want := map[string]string{"b": walk.ReasonSeen, "c": walk.ReasonSeen, "z": walk.ReasonSeen, "a/up": walk.ReasonLoop}
			if got := skipsOf(t, rep, top); !equalMaps(got, want) {
				t.Errorf("skips %v, want %v", got, want)
			}
		})
	}
}
