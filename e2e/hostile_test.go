package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Digests of 2 GiB of zeros, computed once with md5sum, sha1sum and sha256sum.
const (
	zeros2GiBMD5    = "a981130cf2b7e09f4686dc273cf7187e"
	zeros2GiBSHA1   = "91d50642dd930e9542c39d36f0516d45f4e1af0d"
	zeros2GiBSHA256 = "a7c744c13cc101ed66c29f672f92455547889cc586ce6d44fe76ae824958ea51"
	emptySHA256     = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// hostile is a tree built to break a scanner, and what a correct scan of it
// records and skips.
type hostile struct {
	root   string
	files  entries           // regular files and the sha256 of their content
	skips  map[string]string // entries a scan skips, with the reason
	sparse string            // the 2 GiB sparse file
	secret string            // a file that will be made unreadable
	// badSecret is one more, with a name that is not UTF-8.
	badSecret string
	closed    string   // a directory that will be made unreadable
	special   []string // FIFO, socket, device: must never be opened
}

// write creates a regular file with content and records it.
func (h *hostile) write(t testing.TB, p string, content []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatalf("create %q: %v", p, err)
	}
	sum := sha256.Sum256(content)
	h.files[p] = hex.EncodeToString(sum[:])
}

// buildHostile creates the hostile tree under dir.
func buildHostile(t testing.TB, dir string) *hostile {
	t.Helper()
	h := &hostile{root: filepath.Join(dir, "hostile"), files: entries{}, skips: map[string]string{}}
	r := h.root
	mkdir := func(p string) string {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}

	// Names that break line-based tools, shells and UTF-8 decoders.
	names := []string{
		"new\nline", "tab\there", "carriage\rreturn", "bad\xff\xfeutf8", "\x80", "latin1-caf\xe9",
		"-rf", "--help", "-", " leading space", "trailing space ", "back\\slash",
		`quote"s`, "it's", "*glob?[x]", "\x01control\x7f", "emoji-😀", "ünïcödé", "..dots",
		strings.Repeat("n", 255),                                   // the longest name: 255 bytes
		strings.Repeat("é", 127) + "x",                             // 255 bytes of two-byte runes
		strings.Repeat("\xff", 255),                                // 255 bytes, none of it UTF-8
		strings.Repeat("a", 100) + "\n" + strings.Repeat("b", 100), // long, with a newline
	}
	for i, n := range names {
		h.write(t, filepath.Join(r, "names", n), []byte(fmt.Sprintf("content of name %d\n", i)))
	}
	// Zero-byte files, one with a hostile name too.
	for _, n := range []string{"empty1", "empty2", "-empty\n"} {
		h.write(t, filepath.Join(r, "zero", n), nil)
	}

	// 1,000 levels of nesting, with a file at the bottom and one half-way.
	deep := filepath.Join(r, "deep")
	for i := range 1000 {
		deep = filepath.Join(deep, "d")
		if i == 499 {
			h.write(t, filepath.Join(deep, "middle.txt"), []byte("half-way down\n"))
		}
	}
	h.write(t, filepath.Join(deep, "bottom.txt"), []byte("1,000 levels down\n"))

	// A path over 4,000 bytes (under PATH_MAX, 4,096 with its NUL), made of
	// long directory names.
	long := filepath.Join(r, "long")
	const leaf, target = "/long-leaf.txt", 4050
	for len(long)+len(leaf) < target {
		n := min(250, target-len(long)-len(leaf)-1)
		long = filepath.Join(long, fmt.Sprintf("%d", len(long)%10)+strings.Repeat("L", n-1))
	}
	long += leaf
	if len(long) <= 4000 || len(long) >= 4096 {
		t.Fatalf("the long path has %d bytes", len(long))
	}
	h.write(t, long, []byte("far away\n"))

	// A 2 GiB sparse file: it reads as zeros.
	h.sparse = filepath.Join(mkdir(filepath.Join(r, "sparse")), "2GiB.img")
	f, err := os.Create(h.sparse)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(2 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	h.files[h.sparse] = zeros2GiBSHA256

	// Entries that are not regular files: never opened (a FIFO would block).
	special := mkdir(filepath.Join(r, "special"))
	fifo := filepath.Join(special, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	h.special = append(h.special, fifo)
	badFifo := filepath.Join(special, "fifo-\xff\n-named") // not UTF-8, with a newline
	if err := syscall.Mkfifo(badFifo, 0o644); err != nil {
		t.Fatal(err)
	}
	h.special = append(h.special, badFifo)
	sock := filepath.Join(special, "sock")
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: sock}); err != nil {
		t.Fatalf("bind %s: %v", sock, err)
	}
	syscall.Close(fd) // the socket file stays
	h.special = append(h.special, sock)
	dev := filepath.Join(special, "null-device")
	if err := syscall.Mknod(dev, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
		t.Logf("cannot create a device node here (%v): the tree has no device", err)
	} else {
		h.special = append(h.special, dev)
	}
	for _, p := range h.special {
		h.skips[p] = "not a regular file"
	}

	// Symlinks: a loop, a self-loop, a dangling one, one to a file and one to
	// its own directory. Not followed by default.
	links := mkdir(filepath.Join(r, "links"))
	for name, to := range map[string]string{"loop1": "loop2", "loop2": "loop1", "self": "self",
		"dangling": "does/not/exist", "to-file": "../names/-rf", "to-dir": "."} {
		if err := os.Symlink(to, filepath.Join(links, name)); err != nil {
			t.Fatal(err)
		}
		h.skips[filepath.Join(links, name)] = "symlink"
	}

	// Hard links: two names of one inode.
	h.write(t, filepath.Join(r, "hard", "one"), []byte("one inode, two names\n"))
	if err := os.Link(filepath.Join(r, "hard", "one"), filepath.Join(r, "hard", "two")); err != nil {
		t.Fatal(err)
	}
	h.files[filepath.Join(r, "hard", "two")] = h.files[filepath.Join(r, "hard", "one")]

	// What an unprivileged scan will not be able to read, once chmod'ed.
	h.secret = filepath.Join(r, "unreadable", "secret.txt")
	h.write(t, h.secret, []byte("for root's eyes\n"))
	h.badSecret = filepath.Join(r, "unreadable", "secret-\xfe\t.txt")
	h.write(t, h.badSecret, []byte("for root's eyes, oddly named\n"))
	h.closed = filepath.Join(r, "unreadable", "closed")
	h.write(t, filepath.Join(h.closed, "inside.txt"), []byte("behind a closed door\n"))
	return h
}

// TestHostileTree scans a tree built to break scanners: hostile names, deep
// nesting, a path over 4,000 bytes, zero-byte and 2 GiB sparse files,
// FIFOs, sockets and devices, symlink loops, dangling symlinks, hard links,
// and files and directories an unprivileged user cannot read. Every regular
// file is recorded with the right hashes and every other entry reported as a
// skip with its cause; exit 3 comes only with an unreadable file or
// directory, each listed with its cause, and does not cost the rows below an
// unreadable directory.
func TestHostileTree(t *testing.T) {
	needRoot(t)
	h := buildHostile(t, tempDir(t))
	c := newCatalog(t)

	// As root everything is readable: complete, exit 0.
	s := c.scan(0, h.root)
	if s.Status != "complete" || s.Failed != 0 || len(s.Failures) != 0 {
		t.Fatalf("scan of the hostile tree: status %s, failures %v", s.Status, s.Failures)
	}
	if s.FilesSeen != int64(len(h.files)) || s.Added != int64(len(h.files)) {
		t.Errorf("scan saw %d and added %d files, the tree has %d", s.FilesSeen, s.Added, len(h.files))
	}
	gotSkips := map[string]string{}
	for _, sk := range s.Skips {
		gotSkips[exactPath(t, sk.Path, sk.PathB64)] = sk.Reason
	}
	for p, want := range h.skips {
		if got, ok := gotSkips[p]; !ok || got != want {
			t.Errorf("%s: skip reason %q, want %q", p, got, want)
		}
	}
	if len(gotSkips) != len(h.skips) || s.Skipped != int64(len(h.skips)) {
		t.Errorf("%d skips reported (%d counted), want %d: %v", len(gotSkips), s.Skipped, len(h.skips), gotSkips)
	}
	assertCatalog(t, c.path, h.files)
	checkDigests(t, readCatalog(t, c.path), h.sparse, zeros2GiBMD5, zeros2GiBSHA1, zeros2GiBSHA256)

	t.Run("find round-trip", func(t *testing.T) {
		requireCommand(t, "find")
		if d := diff(findAll(t, c, h.root), h.files); d != "" {
			t.Fatalf("find --json does not give back every name exactly: %s", d)
		}
	})

	t.Run("symlinks followed", func(t *testing.T) {
		l := newCatalog(t)
		links := filepath.Join(h.root, "links")
		s := l.scan(0, "--follow-symlinks", links)
		want := map[string]string{
			filepath.Join(links, "loop1"):    "symlink loop",
			filepath.Join(links, "loop2"):    "symlink loop",
			filepath.Join(links, "self"):     "symlink loop",
			filepath.Join(links, "dangling"): "dangling symlink",
			filepath.Join(links, "to-dir"):   "symlink loop", // its own directory
		}
		got := map[string]string{}
		for _, sk := range s.Skips {
			got[sk.Path] = sk.Reason
		}
		if fmt.Sprint(got) != fmt.Sprint(want) || s.Failed != 0 {
			t.Errorf("skips with --follow-symlinks: %v, want %v (failures %v)", got, want, s.Failures)
		}
		toFile := filepath.Join(links, "to-file")
		assertCatalog(t, l.path, entries{toFile: h.files[filepath.Join(h.root, "names", "-rf")]})
	})

	// As an unprivileged user with one file and one directory closed: exit
	// 3, exactly those two listed with their cause, nothing else disturbed.
	chownAll(t, filepath.Dir(c.path), 65534)
	c.cred = nobody
	closed := []string{h.secret, h.badSecret, h.closed}
	for _, p := range closed {
		if err := os.Chmod(p, 0); err != nil {
			t.Fatal(err)
		}
	}
	s = c.scan(3, h.root)
	got := map[string]string{}
	for _, f := range s.Failures {
		got[exactPath(t, f.Path, f.PathB64)] = f.Error
	}
	if len(got) != len(closed) || s.Failed != int64(len(closed)) || s.Status != "partial" {
		t.Fatalf("unprivileged scan: status %s, %d failed, failures %q; want %q", s.Status, s.Failed, got, closed)
	}
	for _, p := range closed {
		if !strings.Contains(got[p], "permission denied") {
			t.Errorf("failure of %q: %q, want permission denied", p, got[p])
		}
	}
	if s.Deleted != 0 {
		t.Errorf("an unreadable directory turned %d files into DEL", s.Deleted)
	}
	assertCatalog(t, c.path, h.files)

	// Readable again: the same unprivileged scan exits 0.
	for _, p := range closed {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s = c.scan(0, h.root)
	if s.Failed != 0 || s.Deleted != 0 || s.Added != 0 || s.Modified != 0 {
		t.Errorf("unprivileged scan of the readable tree: %+v", s)
	}
	assertCatalog(t, c.path, h.files)
	if dd := readCatalog(t, c.path).deleted(); len(dd) != 0 {
		t.Errorf("rows marked DEL: %v", dd)
	}
	c.cred = nil
	c.health()
}

// TestHugeDirectory scans one directory of 100,000 files: all recorded with
// their hashes, names round-trip, and a rescan finds them all unchanged.
func TestHugeDirectory(t *testing.T) {
	const n = 100_000
	dir := filepath.Join(fastDir(t), "huge")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	want := make(entries, n)
	start := time.Now()
	for i := range n {
		// Mostly empty files, one in ten with content of its own: creating
		// 100,000 files must stay quick.
		name := fmt.Sprintf("f%06d", i)
		var content []byte
		if i%10 == 0 {
			content = []byte(name + "\n")
		}
		if err := createAt(int(d.Fd()), name, content); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(content)
		want[filepath.Join(dir, name)] = hex.EncodeToString(sum[:])
	}
	t.Logf("created %d files in %s", n, time.Since(start))
	c := newCatalog(t)
	s := c.scan(0, dir)
	if s.Added != n || s.Failed != 0 {
		t.Fatalf("scan of %d files in one directory: %+v", n, s)
	}
	assertCatalog(t, c.path, want)
	s = c.scan(0, dir)
	if s.Unchanged != n || s.Added != 0 || s.Modified != 0 || s.Deleted != 0 {
		t.Fatalf("rescan: %+v", s)
	}
	t.Run("find round-trip", func(t *testing.T) {
		requireCommand(t, "find")
		if d := diff(findAll(t, c, dir), want); d != "" {
			t.Fatalf("find --json: %s", d)
		}
	})
}

// createAt creates the file name in the directory dirfd with content, in as
// few system calls as it can.
func createAt(dirfd int, name string, content []byte) error {
	if len(content) == 0 {
		return syscall.Mknodat(dirfd, name, syscall.S_IFREG|0o644, 0)
	}
	fd, err := syscall.Openat(dirfd, name, syscall.O_CREAT|syscall.O_EXCL|syscall.O_WRONLY|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		return err
	}
	_, werr := syscall.Write(fd, content)
	return errors.Join(werr, syscall.Close(fd))
}

// fastDir returns a fresh directory on a tmpfs mounted for the test where
// mounting works (creating 100,000 files there takes a fraction of a second,
// against many seconds on a disk), else a plain temporary directory.
func fastDir(t testing.TB) string {
	t.Helper()
	dir := tempDir(t)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=512m,mode=0755", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Logf("no tmpfs (%v: %s): using the disk", err, strings.TrimSpace(string(out)))
		return dir
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// checkDigests fails the test unless the catalog v records the three
// digests for the file at path.
func checkDigests(t testing.TB, v *view, path, md5, sha1, sha256 string) {
	t.Helper()
	for _, f := range v.Files {
		if string(f.Path) == path {
			if got, want := [3]string{f.MD5, f.SHA1, f.SHA256}, [3]string{md5, sha1, sha256}; got != want {
				t.Fatalf("digests of %s: %q, want %q", path, got, want)
			}
			return
		}
	}
	t.Fatalf("%s is not in the catalog", path)
}

// chownAll gives dir and everything in it to uid (and the same gid).
func chownAll(t testing.TB, dir string, uid int) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, uid)
	})
	if err != nil {
		t.Fatal(err)
	}
}
