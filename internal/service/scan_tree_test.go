package service

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/walk"
)

// hostileTree builds a tree of entries a scanner must not open or follow
// blindly, around two regular files, and returns its root.
func hostileTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.txt"), []byte("a"))
	writeFile(t, filepath.Join(dir, "sub", "b.txt"), []byte("b"))
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(dir, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	for link, target := range map[string]string{
		"loop1":       "loop2",
		"loop2":       "loop1",
		"self":        "self",
		"dangling":    "nowhere",
		"link.txt":    "a.txt",
		"dirlink":     "sub",
		"fifolink":    "fifo",
		"sub/uplink":  "..",
		"sub/abslink": dir,
	} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestScanHostileEntries(t *testing.T) {
	cases := []struct {
		name   string
		follow bool
		// want maps entries (relative) to their skip reason.
		want map[string]string
	}{
		{
			name: "symlinks not followed",
			want: map[string]string{
				"fifo": walk.ReasonSpecial, "sock": walk.ReasonSpecial,
				"loop1": walk.ReasonSymlink, "loop2": walk.ReasonSymlink, "self": walk.ReasonSymlink,
				"dangling": walk.ReasonSymlink, "link.txt": walk.ReasonSymlink, "dirlink": walk.ReasonSymlink,
				"fifolink":   walk.ReasonSymlink,
				"sub/uplink": walk.ReasonSymlink, "sub/abslink": walk.ReasonSymlink,
			},
		},
		{
			name:   "symlinks followed",
			follow: true,
			want: map[string]string{
				"fifo": walk.ReasonSpecial, "sock": walk.ReasonSpecial, "fifolink": walk.ReasonSpecial,
				"loop1": walk.ReasonLoop, "loop2": walk.ReasonLoop, "self": walk.ReasonLoop,
				"dangling":   walk.ReasonDangling,
				"sub/uplink": walk.ReasonLoop, "sub/abslink": walk.ReasonLoop,
				// link.txt names a.txt, which is indexed under its own path.
				"link.txt": walk.ReasonLinkIn,
				// dirlink and sub are the same directory: whichever comes
				// second is skipped, checked below.
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := hostileTree(t)
			c := openTestCatalog(t)
			rep, err := scanWithWatchdog(t, c, dir, filepath.Join(dir, "fifo"), ScanOptions{Machine: "m1", FollowSymlinks: tc.follow})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Status != dto.ScanComplete || len(rep.Failures) > 0 {
				t.Fatalf("status %s, failures %v", rep.Status, rep.Failures)
			}
			got := map[string]string{}
			for _, s := range rep.Skips {
				rel, _ := filepath.Rel(dir, s.Path)
				if _, dup := got[rel]; dup {
					t.Errorf("%s skipped twice", rel)
				}
				got[rel] = s.Reason
			}
			if rep.Counts.Skipped != int64(len(rep.Skips)) {
				t.Errorf("skipped %d, but %d skips listed", rep.Counts.Skipped, len(rep.Skips))
			}
			var paths []string
			for p := range dumpFiles(t, c) {
				rel, _ := filepath.Rel(dir, p)
				paths = append(paths, rel)
			}
			slices.Sort(paths)
			if !tc.follow {
				if !equalMaps(got, tc.want) {
					t.Errorf("skips:\n got %v\nwant %v", got, tc.want)
				}
				if want := []string{"a.txt", "sub/b.txt"}; !slices.Equal(paths, want) {
					t.Errorf("indexed %q, want %q", paths, want)
				}
				return
			}
			// Followed: sub and dirlink are one directory, walked once under
			// its own name, sub; dirlink is skipped as seen.
			seen, walked := "dirlink", "sub"
			if got[seen] != walk.ReasonSeen {
				t.Fatalf("skips %v: want dirlink %q", got, walk.ReasonSeen)
			}
			delete(got, seen)
			named := map[string]string{} // entries below the walked name, renamed to sub/
			for rel, reason := range got {
				if after, ok := strings.CutPrefix(rel, walked+"/"); ok {
					rel = "sub/" + after
				}
				named[rel] = reason
			}
			if !equalMaps(named, tc.want) {
				t.Errorf("skips:\n got %v\nwant %v", named, tc.want)
			}
			if want := []string{"a.txt", walked + "/b.txt"}; !slices.Equal(paths, want) {
				t.Errorf("indexed %q, want %q", paths, want)
			}
		})
	}
}

// scanWithWatchdog scans root, failing the test if the scan does not end
// within seconds: opening a FIFO for reading blocks in the kernel until a
// writer comes, and no context can interrupt that, so the watchdog plays the
// writer to set the scan free before failing.
func scanWithWatchdog(t *testing.T, c *Catalog, root, fifo string, opts ScanOptions) (ScanReport, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type outcome struct {
		rep ScanReport
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		rep, err := c.Scan(ctx, []string{root}, opts)
		done <- outcome{rep, err}
	}()
	select {
	case o := <-done:
		return o.rep, o.err
	case <-time.After(10 * time.Second):
		cancel()
		if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
		<-done
		t.Fatal("the scan blocked: a FIFO was opened")
		return ScanReport{}, nil
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestScanOddNames: names are bytes, not text; they must come back exactly.
func TestScanOddNames(t *testing.T) {
	dir := t.TempDir()
	names := []string{
		"bad\xff\xfeutf8",
		"new\nline",
		"tab\there",
		"-leading-dash",
		"--",
		" leading space",
		"trailing space ",
		"back\\slash",
		"quote\"'",
		"ümlaut-日本",
		"percent%20and?query#frag",
		strings.Repeat("n", 255),
		strings.Repeat("é", 127) + "x", // 255 bytes, multibyte
	}
	for i, n := range names {
		writeFile(t, filepath.Join(dir, n), []byte{byte(i)})
	}
	writeFile(t, filepath.Join(dir, "dir\nwith\xffodd", "inner"), []byte("inner"))
	c := openTestCatalog(t)
	rep := mustScan(t, c, []string{dir}, ScanOptions{})
	if rep.Status != dto.ScanComplete {
		t.Fatalf("status %s, failures %v", rep.Status, rep.Failures)
	}
	rows := dumpFiles(t, c)
	if len(rows) != len(names)+1 {
		t.Fatalf("%d rows, want %d", len(rows), len(names)+1)
	}
	for i, n := range names {
		p := filepath.Join(dir, n)
		r, ok := rows[p]
		if !ok {
			t.Errorf("%q: no row with exactly that path", p)
			continue
		}
		if r.Name != n {
			t.Errorf("%q: name %q", n, r.Name)
		}
		data, err := os.ReadFile(r.Path)
		if err != nil || !bytes.Equal(data, []byte{byte(i)}) {
			t.Errorf("%q: the stored path does not open the file: %v", n, err)
		}
	}
	if _, ok := rows[filepath.Join(dir, "dir\nwith\xffodd", "inner")]; !ok {
		t.Error("file below an oddly named directory: no row")
	}
	// The rescan finds every row again by its path: nothing is new or gone.
	rep = mustScan(t, c, []string{dir}, ScanOptions{})
	if rep.Counts.Added != 0 || rep.Counts.Deleted != 0 || rep.Counts.FilesSeen != int64(len(names)+1) {
		t.Fatalf("rescan %+v: want every file found again", rep.Counts)
	}
}

// TestScanSkipsCatalogFiles scans the catalog's own directory, directly and
// through a symlink: the database, its -wal, -shm, lock file and backups are
// never read, and the catalog stays sound.
func TestScanSkipsCatalogFiles(t *testing.T) {
	for _, viaLink := range []bool{false, true} {
		name := "direct"
		if viaLink {
			name = "through a symlink"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			c := openCatalogAt(t, filepath.Join(dir, "index.db"))
			writeFile(t, filepath.Join(dir, "mine.txt"), []byte("mine"))
			writeFile(t, filepath.Join(dir, "backups", "index-1.db"), []byte("backup"))
			root := dir
			if viaLink {
				root = filepath.Join(t.TempDir(), "link")
				if err := os.Symlink(dir, root); err != nil {
					t.Fatal(err)
				}
			}
			for _, suffix := range []string{"", "-wal", "-shm", ".lock"} {
				if _, err := os.Stat(filepath.Join(dir, "index.db"+suffix)); err != nil {
					t.Fatalf("the test needs the catalog's %q file: %v", suffix, err)
				}
			}
			for range 2 {
				rep := mustScan(t, c, []string{root}, ScanOptions{})
				if rep.Status != dto.ScanComplete {
					t.Fatalf("status %s, failures %v", rep.Status, rep.Failures)
				}
				for p := range dumpFiles(t, c) {
					if strings.HasPrefix(filepath.Base(p), "index.db") {
						t.Errorf("catalog file %s was indexed", p)
					}
				}
				var catalogSkips int
				for _, s := range rep.Skips {
					if s.Reason == walk.ReasonCatalog {
						catalogSkips++
					}
				}
				if catalogSkips < 4 {
					t.Errorf("skips %v: want the db, -wal, -shm and .lock skipped as the catalog's", rep.Skips)
				}
				checkIntegrity(t, c)
			}
			if _, ok := dumpFiles(t, c)[filepath.Join(root, "mine.txt")]; !ok {
				t.Fatal("mine.txt beside the catalog was not indexed")
			}
		})
	}
}

func TestScanRoots(t *testing.T) {
	dir := t.TempDir()
	a, ab, ax := filepath.Join(dir, "a"), filepath.Join(dir, "a", "b"), filepath.Join(dir, "a-x")
	writeFile(t, filepath.Join(a, "1.txt"), []byte("1"))
	writeFile(t, filepath.Join(ab, "2.txt"), []byte("2"))
	writeFile(t, filepath.Join(ax, "3.txt"), []byte("3"))
	writeFile(t, filepath.Join(dir, "a.y", "4.txt"), []byte("4"))

	t.Run("nested and repeated roots: every file is scanned once", func(t *testing.T) {
		c := openTestCatalog(t)
		// "a-x" and "a.y" sort between "a" and "a/b". A root below another
		// is a root of its own (walked whatever the outer walk would do).
		rep := mustScan(t, c, []string{ab, a, ax, a + "/", filepath.Join(ab, ".."), ab, filepath.Join(dir, "a.y")}, ScanOptions{})
		if want := []string{a, ax, filepath.Join(dir, "a.y"), ab}; !slices.Equal(rep.Roots, want) {
			t.Errorf("roots %q, want %q", rep.Roots, want)
		}
		if rep.Counts.Added != 4 || rep.Counts.FilesSeen != 4 {
			t.Errorf("counts %+v, want 4 files added once each", rep.Counts)
		}
		if n := len(dumpFiles(t, c)); n != 4 {
			t.Errorf("%d rows, want 4", n)
		}
	})
	t.Run("single file root", func(t *testing.T) {
		c := openTestCatalog(t)
		f := filepath.Join(ab, "2.txt")
		rep := mustScan(t, c, []string{f}, ScanOptions{})
		rows := dumpFiles(t, c)
		if rep.Status != dto.ScanComplete || len(rows) != 1 {
			t.Fatalf("status %s, rows %v", rep.Status, rows)
		}
		assertHashed(t, rows, f, []byte("2"))
		rep = mustScan(t, c, []string{f}, ScanOptions{})
		if rep.Counts.FilesSeen != 1 || rep.Counts.Deleted != 0 {
			t.Fatalf("rescan of a single file: %+v", rep.Counts)
		}
	})
	t.Run("a missing root beside a good one", func(t *testing.T) {
		c := openTestCatalog(t)
		gone := filepath.Join(dir, "gone")
		writeFile(t, filepath.Join(gone, "was.txt"), []byte("was"))
		mustScan(t, c, []string{gone}, ScanOptions{})
		if err := os.RemoveAll(gone); err != nil {
			t.Fatal(err)
		}
		rep := mustScan(t, c, []string{gone, ax}, ScanOptions{})
		if rep.Status != dto.ScanPartial || !slices.Equal(failurePaths(rep), []string{gone}) {
			t.Fatalf("status %s, failures %v: want partial, %s failing", rep.Status, rep.Failures, gone)
		}
		if !errors.Is(rep.Failures[0].Err, os.ErrNotExist) {
			t.Errorf("failure %v, want not exist", rep.Failures[0].Err)
		}
		// A missing root may be an unmounted disk: its files are not DEL.
		if rows := dumpFiles(t, c); rows[filepath.Join(gone, "was.txt")].Op != string(dto.OpAdd) {
			t.Errorf("file under the missing root: %+v", rows[filepath.Join(gone, "was.txt")])
		}
	})
	t.Run("only missing roots", func(t *testing.T) {
		c := openTestCatalog(t)
		_, err := c.Scan(context.Background(), []string{filepath.Join(dir, "nope1"), filepath.Join(dir, "nope2")}, ScanOptions{Machine: "m1"})
		if !errors.Is(err, ErrNoRoots) || !strings.Contains(err.Error(), "nope1") {
			t.Fatalf("err %v, want %v naming nope1", err, ErrNoRoots)
		}
		if _, err := c.Scan(context.Background(), nil, ScanOptions{Machine: "m1"}); !errors.Is(err, ErrNoRoots) {
			t.Fatalf("no roots: err %v, want %v", err, ErrNoRoots)
		}
		if n := countRows(t, c, "SELECT COUNT(*) FROM scans"); n != 0 {
			t.Fatalf("%d scans recorded, want none", n)
		}
	})
}

// TestScanSymlinkRoot: a root named on the command line is followed even
// without FollowSymlinks, whether it leads to a directory or to a file.
func TestScanSymlinkRoot(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "real", "in.txt"), []byte("in"))
	writeFile(t, filepath.Join(dir, "file.txt"), []byte("file"))
	links := t.TempDir()
	dirLink, fileLink := filepath.Join(links, "dirlink"), filepath.Join(links, "filelink")
	if err := os.Symlink(filepath.Join(dir, "real"), dirLink); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "file.txt"), fileLink); err != nil {
		t.Fatal(err)
	}
	c := openTestCatalog(t)
	rep := mustScan(t, c, []string{dirLink, fileLink}, ScanOptions{})
	if rep.Status != dto.ScanComplete {
		t.Fatalf("status %s, failures %v", rep.Status, rep.Failures)
	}
	rows := dumpFiles(t, c)
	assertHashed(t, rows, filepath.Join(dirLink, "in.txt"), []byte("in"))
	assertHashed(t, rows, fileLink, []byte("file"))
}

// TestScanEntryReplacedBeforeRead: a file the walk saw may be something else
// by the time a worker opens it; a FIFO must not block the worker, and a
// symlink must not be followed.
func TestScanEntryReplacedBeforeRead(t *testing.T) {
	for _, tc := range []struct {
		name    string
		replace func(p string) error
	}{
		{"by a FIFO", func(p string) error { return syscall.Mkfifo(p, 0o644) }},
		{"by a symlink", func(p string) error { return os.Symlink("/etc/hostname", p) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "victim")
			writeFile(t, p, []byte("victim"))
			c := openTestCatalog(t)
			testHookBeforeHash = func(path string) {
				if path != p {
					return
				}
				if err := os.Remove(p); err != nil {
					t.Error(err)
				}
				if err := tc.replace(p); err != nil {
					t.Error(err)
				}
			}
			t.Cleanup(func() { testHookBeforeHash = nil })
			rep, err := scanWithWatchdog(t, c, dir, p, ScanOptions{Machine: "m1"})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Status != dto.ScanPartial || len(rep.Failures) != 1 || !errors.Is(rep.Failures[0].Err, ErrNotRegular) {
				t.Fatalf("status %s, failures %v: want partial, %v", rep.Status, rep.Failures, ErrNotRegular)
			}
			if n := len(dumpFiles(t, c)); n != 0 {
				t.Fatalf("%d rows, want none", n)
			}
		})
	}
}
