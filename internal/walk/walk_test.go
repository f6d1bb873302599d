package walk

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func writeFile(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(path), 0o644); err != nil {
		t.Fatal(err)
	}
}

// collect walks root and returns its events by kind, with paths relative to
// root.
type collected struct {
	files  []string
	skips  map[string]string
	dirs   map[string]bool // skipped entries reported as directories
	errors map[string]error
}

func collect(t *testing.T, root string, opts Options) collected {
	t.Helper()
	c := collected{skips: map[string]string{}, dirs: map[string]bool{}, errors: map[string]error{}}
	err := Walk(context.Background(), []string{root}, opts, func(ev Event) error {
		rel, err := filepath.Rel(root, ev.Path)
		if err != nil {
			t.Fatal(err)
		}
		switch ev.Kind {
		case File:
			c.files = append(c.files, rel)
		case Skip:
			c.skips[rel] = ev.Reason
			c.dirs[rel] = ev.IsDir
		case Error:
			c.errors[rel] = ev.Err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(c.files)
	return c
}

func TestWalkExclude(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"keep.txt", "a.tmp", "node_modules/x.js", "src/node_modules.txt",
		"src/gen/out.go", "src/gen2/out.go", "docs/drop-me.md", "docs/keep.md", "deep/er/node_modules/y.js",
		"build/x.o", "other/build"} {
		writeFile(t, filepath.Join(root, f))
	}
	opts := Options{Exclude: []string{
		"*.tmp",                              // base name
		"node_modules",                       // base name of a directory, at any depth
		filepath.Join(root, "src", "gen"),    // full path of a directory
		filepath.Join(root, "docs", "drop*"), // full path with a glob
		"build/",                             // a directory only: not the file other/build
	}}
	got := collect(t, root, opts)
	if want := []string{"docs/keep.md", "keep.txt", "other/build", "src/gen2/out.go", "src/node_modules.txt"}; !slices.Equal(got.files, want) {
		t.Errorf("files %q, want %q", got.files, want)
	}
	wantSkips := map[string]bool{ // path → is a directory
		"a.tmp": false, "node_modules": true, "src/gen": true, "docs/drop-me.md": false, "deep/er/node_modules": true,
		"build": true,
	}
	if len(got.skips) != len(wantSkips) {
		t.Errorf("skips %v, want %v", got.skips, wantSkips)
	}
	for p, isDir := range wantSkips {
		if got.skips[p] != ReasonExcluded || got.dirs[p] != isDir {
			t.Errorf("%s: skip %q, dir %v; want %q, dir %v", p, got.skips[p], got.dirs[p], ReasonExcluded, isDir)
		}
	}
	if len(got.errors) > 0 {
		t.Errorf("errors %v", got.errors)
	}
}

func TestValidatePatterns(t *testing.T) {
	if err := ValidatePatterns([]string{"*.tmp", "/a/b/*", "[abc]", "dir/", "*/cache", "/srv/x/"}); err != nil {
		t.Fatalf("good patterns: %v", err)
	}
	for _, p := range []string{"archive/tar", "src/gen2/", "a/*", "/", "?/x"} {
		if err := ValidatePatterns([]string{p}); err == nil {
			t.Errorf("pattern %q can never match, and was accepted", p)
		}
	}
	err := ValidatePatterns([]string{"ok", "[unclosed"})
	if !errors.Is(err, filepath.ErrBadPattern) || !strings.Contains(err.Error(), "[unclosed") {
		t.Fatalf("err %v, want %v naming the pattern", err, filepath.ErrBadPattern)
	}
}

func TestWalkDeepNesting(t *testing.T) {
	root := t.TempDir()
	const depth = 1000
	// Created level by level relative to the one above: os.MkdirAll
	// resolves the whole path at every level, which is slow this deep.
	fd, err := unix.Open(root, unix.O_DIRECTORY|unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for range depth {
		if err := unix.Mkdirat(fd, "d", 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(fd, "d", unix.O_DIRECTORY|unix.O_RDONLY, 0)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		fd = next
	}
	bottom, err := unix.Openat(fd, "bottom.txt", unix.O_CREAT|unix.O_WRONLY, 0o644)
	unix.Close(fd)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(bottom)
	got := collect(t, root, Options{})
	want := strings.Repeat("d/", depth) + "bottom.txt"
	if !slices.Equal(got.files, []string{want}) || len(got.errors) > 0 || len(got.skips) > 0 {
		t.Fatalf("files %d (want the one at depth %d), errors %v, skips %v", len(got.files), depth, got.errors, got.skips)
	}
}

// TestWalkOneFileSystem walks /dev, which on Linux holds other mounts
// (/dev/shm, /dev/pts) below it; the walk opens no device, it only lists.
func TestWalkOneFileSystem(t *testing.T) {
	dev, err1 := Lstat("/dev")
	shm, err2 := Lstat("/dev/shm")
	if err1 != nil || err2 != nil || !shm.IsDir() || dev.Device == shm.Device {
		t.Skip("needs /dev/shm mounted as a file system of its own")
	}
	got := collect(t, "/dev", Options{OneFileSystem: true})
	if got.skips["shm"] != ReasonOtherFS || !got.dirs["shm"] {
		t.Fatalf("/dev/shm: skip %q, want %q", got.skips["shm"], ReasonOtherFS)
	}
	for p := range got.skips {
		if strings.HasPrefix(p, "shm/") {
			t.Fatalf("%s reported: the walk went into another file system", p)
		}
	}
	got = collect(t, "/dev", Options{})
	for p, r := range got.skips {
		if r == ReasonOtherFS {
			t.Fatalf("%s skipped as %q without OneFileSystem", p, r)
		}
	}
}

func TestWalkRootErrors(t *testing.T) {
	root := filepath.Join(t.TempDir(), "missing")
	var evs []Event
	err := Walk(context.Background(), []string{root}, Options{}, func(ev Event) error { evs = append(evs, ev); return nil })
	if err != nil || len(evs) != 1 || evs[0].Kind != Error || !errors.Is(evs[0].Err, os.ErrNotExist) {
		t.Fatalf("err %v, events %+v: want one not-exist Error", err, evs)
	}
}

func TestWalkStopsOnCancel(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"a/1", "b/2", "c/3", "d/4"} {
		writeFile(t, filepath.Join(root, f))
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err := Walk(ctx, []string{root}, Options{}, func(ev Event) error {
		n++
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) || n != 1 {
		t.Fatalf("err %v after %d events, want %v after 1", err, n, context.Canceled)
	}
}

// TestWalkRoots: a root below another is walked as a root of its own, not
// by the outer walk, and every event names its root; entries come sorted.
func TestWalkRoots(t *testing.T) {
	dir := t.TempDir()
	top, sub := filepath.Join(dir, "top"), filepath.Join(dir, "top", "sub")
	for _, f := range []string{"top/b", "top/a", "top/sub/s", "top/c/d"} {
		writeFile(t, filepath.Join(dir, f))
	}
	if err := os.Symlink("sub", filepath.Join(top, "link")); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := Walk(context.Background(), []string{top, sub}, Options{Exclude: []string{"sub"}}, func(ev Event) error {
		rel, _ := filepath.Rel(dir, ev.Path)
		root, _ := filepath.Rel(dir, ev.Root)
		s := root + ": " + rel
		if ev.Kind == Skip {
			s += " " + ev.Reason
			if ev.Link {
				s += " (link)"
			}
		}
		got = append(got, s)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A directory's own entries come before what lies below its subdirectories.
	want := []string{"top: top/a", "top: top/b", "top: top/link symlink (link)", "top: top/c/d", "top/sub: top/sub/s"}
	if !slices.Equal(got, want) {
		t.Fatalf("events\n got %q\nwant %q", got, want)
	}
}

// TestWalkOneDirectoryNamedTwice: a directory named as a root both by its
// own path and through a symlink is walked once, under its own path,
// whichever comes first.
func TestWalkOneDirectoryNamedTwice(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "real", "f"))
	link := filepath.Join(dir, "a-link") // sorts before "real"
	if err := os.Symlink("real", link); err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(dir, "real")
	for _, roots := range [][]string{{link, real}, {real, link}} {
		var files []string
		skips := map[string]string{}
		err := Walk(context.Background(), roots, Options{}, func(ev Event) error {
			switch ev.Kind {
			case File:
				files = append(files, ev.Path)
			case Skip:
				skips[ev.Path] = ev.Reason
			default:
				t.Errorf("event %+v", ev)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{filepath.Join(real, "f")}; !slices.Equal(files, want) || len(skips) != 1 || skips[link] != ReasonSeen {
			t.Errorf("roots %q: files %q, skips %v; want %q, %s %q", roots, files, skips, want, link, ReasonSeen)
		}
	}
}

// TestWalkLargeDirectory: the entries of a directory with more entries than
// are stat'ed at once come in sorted order, each with its own stat, with
// subdirectories, symlinks and special files told apart as in a small one.
func TestWalkLargeDirectory(t *testing.T) {
	root := t.TempDir()
	var want []string
	for i := range 3 * statParallel {
		name := filepath.Join(root, "d", string(rune('a'+i%26))+strings.Repeat("x", i))
		writeFile(t, name)
		rel, _ := filepath.Rel(root, name)
		want = append(want, rel)
	}
	slices.Sort(want)
	writeFile(t, filepath.Join(root, "d", "sub", "inner"))
	want = append(want, filepath.Join("d", "sub", "inner")) // once d's own entries are done
	if err := os.Symlink("nowhere", filepath.Join(root, "d", "link")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(root, "d", "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := Walk(context.Background(), []string{root}, Options{}, func(ev Event) error {
		rel, _ := filepath.Rel(root, ev.Path)
		switch {
		case ev.Kind == File:
			if ev.Stat.Size != int64(len(ev.Path)) { // writeFile writes the path
				t.Errorf("%s: size %d, want %d", rel, ev.Stat.Size, len(ev.Path))
			}
			got = append(got, rel)
		case ev.Kind == Skip && rel == filepath.Join("d", "link") && ev.Reason == ReasonSymlink:
		case ev.Kind == Skip && rel == filepath.Join("d", "pipe") && ev.Reason == ReasonSpecial:
		default:
			t.Errorf("unexpected event %+v", ev)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("files\n%v\nwant\n%v", got, want)
	}
}
