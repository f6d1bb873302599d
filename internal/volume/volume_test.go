package volume

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// A mount table as the kernel writes it: optional fields, a mount point and
// a source with escaped spaces, tabs, newlines and backslashes, a bind mount
// of a subdirectory.
const fixture = `22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard
40 27 8:17 / /media/ann/My\040Photos rw,nosuid,nodev shared:40 master:2 - vfat /dev/sdb1 rw,uid=1000
41 27 8:17 /dcim /srv/camera rw - vfat /dev/sdb1 rw
42 27 7:0 / /mnt/a\011b\012c\134d rw - ext4 /dev/loop0 rw
43 27 8:33 / /boot/efi rw - vfat /dev/sdc1 rw
44 27 0:50 / /run/user/1000 rw - tmpfs tmpfs rw
`

func TestParseMountinfo(t *testing.T) {
	got, err := ParseMountinfo(strings.NewReader(fixture))
	if err != nil {
		t.Fatal(err)
	}
	want := []Mount{
		{Major: 0, Minor: 21, Root: "/", MountPoint: "/proc", FSType: "proc", Source: "proc"},
		{Major: 254, Minor: 0, Root: "/", MountPoint: "/", FSType: "ext4", Source: "/dev/vda"},
		{Major: 8, Minor: 17, Root: "/", MountPoint: "/media/ann/My Photos", FSType: "vfat", Source: "/dev/sdb1"},
		{Major: 8, Minor: 17, Root: "/dcim", MountPoint: "/srv/camera", FSType: "vfat", Source: "/dev/sdb1"},
		{Major: 7, Minor: 0, Root: "/", MountPoint: "/mnt/a\tb\nc\\d", FSType: "ext4", Source: "/dev/loop0"},
		{Major: 8, Minor: 33, Root: "/", MountPoint: "/boot/efi", FSType: "vfat", Source: "/dev/sdc1"},
		{Major: 0, Minor: 50, Root: "/", MountPoint: "/run/user/1000", FSType: "tmpfs", Source: "tmpfs"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
}

func TestParseMountinfoRefusesBadLines(t *testing.T) {
	for _, line := range []string{
		"22 27 0:21 / /proc rw,relatime proc proc rw", // no separator
		"22 27 021 / /proc rw - proc proc rw",         // no MAJOR:MINOR
		"22 27 0:21 / /proc rw -",                     // no type
	} {
		if _, err := ParseMountinfo(strings.NewReader(line + "\n")); err == nil {
			t.Errorf("%q: no error", line)
		}
	}
}

func TestUnescapeLeavesOtherBackslashes(t *testing.T) {
	for in, want := range map[string]string{`a\040b`: "a b", `a\9`: `a\9`, `a\400`: `a\400`, `end\04`: `end\04`, `\134`: `\`} {
		if got := unescape(in); got != want {
			t.Errorf("unescape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPick(t *testing.T) {
	ms, err := ParseMountinfo(strings.NewReader(fixture))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path         string
		major, minor uint32
		want         string
	}{
		{"/media/ann/My Photos/x.jpg", 8, 17, "/media/ann/My Photos"},
		{"/srv/camera/x.jpg", 8, 17, "/srv/camera"},
		{"/media/ann/other", 254, 0, "/"},
		{"/media/ann/My Photosx/y", 254, 0, "/"},       // a prefix of the name is not a parent
		{"/srv/camera/sub/deep", 0, 99, "/srv/camera"}, // no mount of that device: the longest prefix
	} {
		m, ok := Pick(ms, tc.path, tc.major, tc.minor)
		if !ok || m.MountPoint != tc.want {
			t.Errorf("Pick(%q) = %q, %v; want %q", tc.path, m.MountPoint, ok, tc.want)
		}
	}
}

func TestRelAbs(t *testing.T) {
	top := Volume{Mount: Mount{Root: "/", MountPoint: "/media/a"}}
	bind := Volume{Mount: Mount{Root: "/dcim", MountPoint: "/srv/camera"}}
	for _, tc := range []struct {
		v        Volume
		abs, rel string
	}{
		{top, "/media/a", "/"},
		{top, "/media/a/x/y.jpg", "/x/y.jpg"},
		{bind, "/srv/camera", "/dcim"},
		{bind, "/srv/camera/y.jpg", "/dcim/y.jpg"},
	} {
		if got := tc.v.Rel(tc.abs); got != tc.rel {
			t.Errorf("Rel(%q) = %q, want %q", tc.abs, got, tc.rel)
		}
		if got, ok := tc.v.Abs(tc.rel); !ok || got != tc.abs {
			t.Errorf("Abs(%q) = %q, %v; want %q", tc.rel, got, ok, tc.abs)
		}
	}
	if got, ok := bind.Abs("/music/z.mp3"); ok {
		t.Errorf("a bind mount of /dcim shows /music/z.mp3 at %q", got)
	}
}

func TestExternal(t *testing.T) {
	for _, tc := range []struct {
		point, fs string
		usb       bool
		want      bool
	}{
		{"/media/ann/STICK", "vfat", false, true},
		{"/run/media/ann/STICK", "exfat", false, true},
		{"/mnt/disk", "ntfs3", false, true},
		{"/mnt", "vfat", false, true},
		{"/data", "vfat", false, false},             // a FAT file system elsewhere: not by type
		{"/media/ann/backup", "ext4", false, false}, // ext4 counts only on a removable or USB device
		{"/srv/backup", "ext4", true, true},
		{"/", "ext4", true, false},         // the root file system never
		{"/boot/efi", "vfat", true, false}, // nor a system mount
		{"/run/user/1000", "vfat", true, false},
	} {
		if got := External(Mount{MountPoint: tc.point, FSType: tc.fs}, tc.usb); got != tc.want {
			t.Errorf("External(%s on %s, usb %v) = %v, want %v", tc.fs, tc.point, tc.usb, got, tc.want)
		}
	}
}

func TestParseBlkid(t *testing.T) {
	u, l := parseBlkid([]byte("UUID=1A2B-3C4D\nLABEL=MY\\ STICK\n"))
	if u != "1A2B-3C4D" || l != "MY STICK" {
		t.Errorf("got %q %q", u, l)
	}
	if got := decodeUdev(`MY\x20STICK`); got != "MY STICK" {
		t.Errorf("decodeUdev = %q", got)
	}
}

// fakeBlkid puts on PATH a blkid that appends its last argument to a log
// and then runs script; it returns the log.
func fakeBlkid(t *testing.T, script string) string {
	t.Helper()
	dir := t.TempDir()
	log := filepath.Join(dir, "asked")
	body := "#!/bin/sh\nfor a; do last=$a; done\necho \"$last\" >> " + log + "\n" + script + "\n"
	if err := os.WriteFile(filepath.Join(dir, "blkid"), []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	return log
}

func asked(t *testing.T, log string) []string {
	t.Helper()
	b, err := os.ReadFile(log)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// A drive whose blkid never answers (a dead drive) has no identity after
// blkidTimeout, and is not asked again by this process: a query does not
// hang on it (without the timeout this test would run until go test's).
func TestBlkidHungDevice(t *testing.T) {
	log := fakeBlkid(t, "exec sleep 600")
	dev := "/dev/test-hung-" + t.Name()
	for range 2 {
		if u, l := blkid(dev); u != "" || l != "" {
			t.Errorf("a hung blkid gave %q %q", u, l)
		}
	}
	if got := asked(t, log); !reflect.DeepEqual(got, []string{dev}) {
		t.Errorf("blkid asked about %q, want once about %s", got, dev)
	}
}

// Mounted asks blkid only about the block devices whose file system is of
// the volume's kind.
func TestMountedAsksOnlyDevicesOfTheKind(t *testing.T) {
	log := fakeBlkid(t, `case "$last" in /dev/sdb1) echo UUID=AAAA-BBBB;; esac`)
	ms, err := ParseMountinfo(strings.NewReader(fixture))
	if err != nil {
		t.Fatal(err)
	}
	tab := NewTable(ms)
	tab.byUUID, tab.byLabel, tab.sys = t.TempDir(), t.TempDir(), t.TempDir()
	vs := tab.Mounted("AAAA-BBBB", "", "vfat")
	var points []string
	for _, v := range vs {
		points = append(points, v.MountPoint)
	}
	if want := []string{"/media/ann/My Photos", "/srv/camera"}; !reflect.DeepEqual(points, want) {
		t.Errorf("mounted at %q, want %q", points, want)
	}
	got := asked(t, log)
	slices.Sort(got)
	if want := []string{"/dev/sdb1", "/dev/sdc1"}; !reflect.DeepEqual(slices.Compact(got), want) {
		t.Errorf("blkid asked about %q, want only the vfat devices %q", got, want)
	}
}

func TestSameFingerprint(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"ext4:16777216:1765000000.000000001", "ext4:16777216:1765000000.000000001", true},
		{"ext4:16777216:1765000000.000000001", "ext4:16777216:1765000000.000000002", false}, // formatted apart
		{"ext4:16777216", "ext4:25165824", false},                                           // another size
		{"vfat:16777216", "ext4:16777216", false},
		{"ext4:16777216:1765000000.000000001", "ext4:16777216", true}, // a bind mount shows no top directory
		{"", "ext4:16777216", false},
	} {
		if got := SameFingerprint(tc.a, tc.b); got != tc.want {
			t.Errorf("SameFingerprint(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
