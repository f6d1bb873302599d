// Package volumetest gives tests real file systems: small images made by
// mkfs and loop-mounted, as drives to scan, unplug and plug in elsewhere.
package volumetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Image makes a small file system of type fsType (ext4 or vfat)
// labelled label in an image file and returns the image. Without root or
// the mkfs tool it skips the test, or fails it under CI=true, where .ci/run
// installs e2fsprogs and dosfstools and runs as root; a kernel without the
// file system's driver skips it.
func Image(t testing.TB, fsType, label string) string {
	t.Helper()
	unavailable := func(why string) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("no %s volume: %s (CI must run as root with e2fsprogs and dosfstools)", fsType, why)
		}
		t.Skipf("no %s volume: %s", fsType, why)
	}
	if os.Geteuid() != 0 {
		unavailable("not root")
	}
	// A driver missing from the running kernel is no package CI can
	// install: the test says so and skips, under CI=true too.
	if known, err := os.ReadFile("/proc/filesystems"); err == nil && !slices.Contains(strings.Fields(string(known)), fsType) {
		t.Skipf("the running kernel has no %s driver (/proc/filesystems)", fsType)
	}
	img := filepath.Join(t.TempDir(), fsType+".img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(16 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var mkfs []string
	switch fsType {
	case "ext4":
		mkfs = []string{"mkfs.ext4", "-q", "-L", label, img}
	case "vfat":
		mkfs = []string{"mkfs.vfat", "-n", label, img}
	}
	if _, err := exec.LookPath(mkfs[0]); err != nil {
		unavailable(mkfs[0] + " is not installed")
	}
	if out, err := exec.Command(mkfs[0], mkfs[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", mkfs[0], err, out)
	}
	return img
}

// Mount loop-mounts img on a new directory named name and returns it;
// the returned function unmounts it (also done at the test's end).
func Mount(t testing.TB, img, name string) (string, func()) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-o", "loop", img, dir).CombinedOutput(); err != nil {
		msg := "mount -o loop: " + strings.TrimSpace(string(out))
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	mounted := true
	unmount := func() {
		if !mounted {
			return
		}
		mounted = false
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	}
	t.Cleanup(unmount)
	return dir, unmount
}
