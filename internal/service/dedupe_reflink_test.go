package service

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// reflinkFileSystem makes a btrfs (or else XFS with reflink=1) file system
// in a loop-mounted image and returns its mount point. Without root, mount
// or the mkfs tools it skips the test, or fails it under CI=true, where
// .ci/run installs btrfs-progs and xfsprogs.
func reflinkFileSystem(t *testing.T) string {
	t.Helper()
	unavailable := func(why string) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("no reflink file system: %s (CI must run as root with btrfs-progs or xfsprogs)", why)
		}
		t.Skipf("no reflink file system: %s", why)
	}
	if os.Geteuid() != 0 {
		unavailable("not root")
	}
	dir := t.TempDir()
	img, mnt := filepath.Join(dir, "fs.img"), filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	var mkfs []string
	if p, err := exec.LookPath("mkfs.btrfs"); err == nil {
		mkfs = []string{p, "-q", img}
	} else if p, err := exec.LookPath("mkfs.xfs"); err == nil {
		mkfs = []string{p, "-q", "-m", "reflink=1", img}
	} else {
		unavailable("neither mkfs.btrfs nor mkfs.xfs is installed")
	}
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(512 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if out, err := exec.Command(mkfs[0], mkfs[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", mkfs[0], err, out)
	}
	if out, err := exec.Command("mount", "-o", "loop", img, mnt).CombinedOutput(); err != nil {
		unavailable("mount -o loop: " + strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	t.Logf("reflink file system: %s", filepath.Base(mkfs[0]))
	return mnt
}

// firstExtent returns the physical address and flags of the first extent
// of path (FS_IOC_FIEMAP, synced first).
func firstExtent(t *testing.T, path string) (physical uint64, flags uint32) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type extent struct {
		Logical, Physical, Length uint64
		_                         [2]uint64
		Flags                     uint32
		_                         [3]uint32
	}
	var req struct {
		Start, Length                        uint64
		Flags, Mapped, ExtentCount, Reserved uint32
		Extents                              [1]extent
	}
	req.Length = ^uint64(0)
	req.Flags = 1 // FIEMAP_FLAG_SYNC
	req.ExtentCount = 1
	const fsIocFiemap = 0xC020660B
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), fsIocFiemap, uintptr(unsafe.Pointer(&req))); errno != 0 {
		t.Fatalf("FIEMAP %s: %v", path, errno)
	}
	if req.Mapped == 0 {
		t.Fatalf("FIEMAP %s: no extent", path)
	}
	return req.Extents[0].Physical, req.Extents[0].Flags
}

// TestDedupeReflink: on a file system that shares extents, apply makes the
// victim share the kept file's extents (FIEMAP proves it) and skips a file
// changed between plan and apply.
func TestDedupeReflink(t *testing.T) {
	mnt := reflinkFileSystem(t)
	data := randomBytes(9, 1<<20)
	for _, name := range []string{"keep.bin", "victim.bin", "changed.bin"} {
		writeFile(t, filepath.Join(mnt, name), data)
	}
	// Every file its own extents before the apply.
	if a, _ := firstExtent(t, filepath.Join(mnt, "keep.bin")); func() bool { b, _ := firstExtent(t, filepath.Join(mnt, "victim.bin")); return a == b }() {
		t.Fatal("the files share extents before the apply")
	}
	f := &dedupeFixture{root: mnt, c: openTestCatalog(t), data: data}
	f.scan(t)
	p := f.plan(t, ActionReflink, "shortest-path")
	changed := bytes.Clone(data)
	changed[len(changed)/2] ^= 1
	if err := os.WriteFile(filepath.Join(mnt, "changed.bin"), changed, 0o644); err != nil {
		t.Fatal(err)
	}
	rep := f.apply(t, p, ApplyOptions{})
	if rep.Applied != 1 || len(rep.Skipped) != 1 || rep.Skipped[0].Path != filepath.Join(mnt, "changed.bin") {
		t.Fatalf("report = %+v; want victim.bin reflinked and changed.bin skipped", rep)
	}
	kp, _ := firstExtent(t, filepath.Join(mnt, "keep.bin"))
	vp, vflags := firstExtent(t, filepath.Join(mnt, "victim.bin"))
	if kp != vp || vflags&0x2000 == 0 { // FIEMAP_EXTENT_SHARED
		t.Errorf("victim.bin extent at %d (flags %#x), kept at %d; want one shared extent", vp, vflags, kp)
	}
	if cp, _ := firstExtent(t, filepath.Join(mnt, "changed.bin")); cp == kp {
		t.Error("changed.bin shares the kept file's extent")
	}
	if !bytes.Equal(mustRead(t, filepath.Join(mnt, "victim.bin")), data) || !bytes.Equal(mustRead(t, filepath.Join(mnt, "changed.bin")), changed) {
		t.Error("a file lost its content")
	}
}

// TestDedupeReflinkUnsupported: where the file system cannot share extents
// (ext4, tmpfs), every copy is skipped with a clear reason and left as it
// was.
func TestDedupeReflinkUnsupported(t *testing.T) {
	f := newDedupeFixture(t, "keep.bin", "victim.bin")
	var st unix.Statfs_t
	if err := unix.Statfs(f.root, &st); err != nil {
		t.Fatal(err)
	}
	if st.Type == unix.BTRFS_SUPER_MAGIC || st.Type == unix.XFS_SUPER_MAGIC {
		t.Skip("the temporary directory is on a file system that may share extents")
	}
	p := f.plan(t, ActionReflink)
	before := inodeOf(t, f.path("victim.bin"))
	rep, err := f.c.Apply(context.Background(), &p, ApplyOptions{Machine: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Applied != 0 || len(rep.Skipped) != 1 || !strings.Contains(rep.Skipped[0].Reason, "cannot share extents") {
		t.Fatalf("report = %+v; want victim.bin skipped as unsupported", rep)
	}
	if inodeOf(t, f.path("victim.bin")) != before || !bytes.Equal(mustRead(t, f.path("victim.bin")), f.data) {
		t.Error("victim.bin changed")
	}
}
