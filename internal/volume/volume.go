package volume

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Volume is the file system a path lives on, as mounted now.
type Volume struct {
	Mount
	UUID, Label string
	// External: removable or external, by the rule of docs/travel.md
	// (External says why).
	External bool
}

// Device is the st_dev of the files below the mount point.
func (v Volume) Device() uint64 { return unix.Mkdev(v.Major, v.Minor) }

// Identified reports whether the file system has a UUID or a label, so that
// it can be told again when mounted elsewhere.
func (v Volume) Identified() bool { return v.UUID != "" || v.Label != "" }

// Rel returns path (absolute, below the mount point, symlinks resolved) as a
// path of the file system itself: "/" is the file system's top directory.
// A bind mount of a subdirectory prefixes its Root.
func (v Volume) Rel(path string) string {
	rest := path
	if v.MountPoint != "/" {
		rest = strings.TrimPrefix(path, v.MountPoint)
	}
	if rest == "" {
		rest = "/"
	}
	if v.Root == "/" || v.Root == "" {
		return rest
	}
	if rest == "/" {
		return v.Root
	}
	return v.Root + rest
}

// Abs returns the current absolute path of rel, a path of the file system
// (see Rel), and false when this mount does not show it (a bind mount of
// another subdirectory).
func (v Volume) Abs(rel string) (string, bool) {
	root := v.Root
	if root == "" {
		root = "/"
	}
	var rest string
	switch {
	case root == "/":
		rest = rel
	case rel == root:
		rest = "/"
	case strings.HasPrefix(rel, root+"/"):
		rest = rel[len(root):]
	default:
		return "", false
	}
	switch {
	case v.MountPoint == "/":
		return rest, true
	case rest == "/":
		return v.MountPoint, true
	}
	return v.MountPoint + rest, true
}

// Table is the mount table as read once, with the identities of its block
// devices found as they are asked for.
type Table struct {
	mounts []Mount
	// Where the system's views live; tests point them elsewhere.
	sys, byUUID, byLabel string

	mu  sync.Mutex
	ids map[[2]uint32][2]string // device → UUID, label
}

// Load reads /proc/self/mountinfo.
func Load() (*Table, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read the mount table: %w", err)
	}
	defer f.Close()
	ms, err := ParseMountinfo(f)
	if err != nil {
		return nil, err
	}
	return NewTable(ms), nil
}

// NewTable returns a table of mounts, whose devices are identified and told
// removable through the system's /dev/disk and /sys.
func NewTable(ms []Mount) *Table {
	return &Table{mounts: ms, sys: "/sys", byUUID: "/dev/disk/by-uuid", byLabel: "/dev/disk/by-label", ids: map[[2]uint32][2]string{}}
}

// Find returns the volume that holds path, an absolute path with its
// symlinks resolved: the mount whose device is the path's st_dev and whose
// mount point is the longest prefix of path (several mounts can show one
// device: bind mounts). When no mount has that device (a btrfs subvolume
// has an anonymous one), the longest prefix decides.
func (t *Table) Find(path string) (Volume, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return Volume{}, fmt.Errorf("stat %s: %w", path, err)
	}
	m, ok := Pick(t.mounts, path, unix.Major(uint64(st.Dev)), unix.Minor(uint64(st.Dev)))
	if !ok {
		return Volume{}, fmt.Errorf("no mount in the mount table holds %s", path)
	}
	return t.volume(m), nil
}

// Pick chooses among ms the mount of path, as Find does.
func Pick(ms []Mount, path string, major, minor uint32) (Mount, bool) {
	best, bestAny := -1, -1
	for i, m := range ms {
		if !under(path, m.MountPoint) {
			continue
		}
		// Later lines mount over earlier ones at the same point.
		if bestAny < 0 || len(m.MountPoint) >= len(ms[bestAny].MountPoint) {
			bestAny = i
		}
		if m.Major == major && m.Minor == minor && (best < 0 || len(m.MountPoint) >= len(ms[best].MountPoint)) {
			best = i
		}
	}
	if best < 0 {
		best = bestAny
	}
	if best < 0 {
		return Mount{}, false
	}
	return ms[best], true
}

// Mounted returns the volumes mounted now whose file system has that UUID
// (or, when uuid is empty, that label), the mount showing the file
// system's top directory first. Only mounts of a block device whose file
// system is of type fsType (its kind: ntfs, ntfs3 and fuseblk are one;
// any when fsType is "") are identified, so a query does not ask blkid
// about devices that cannot be the volume.
func (t *Table) Mounted(uuid, label, fsType string) []Volume {
	var out []Volume
	for _, m := range t.mounts {
		if !strings.HasPrefix(m.Source, "/dev/") || (fsType != "" && fsKind(m.FSType) != fsKind(fsType)) {
			continue
		}
		u, l := t.identify(m)
		if (uuid != "" && u == uuid) || (uuid == "" && label != "" && u == "" && l == label) {
			out = append(out, t.volume(m))
		}
	}
	for i, v := range out {
		if v.Root == "/" && i > 0 {
			out[0], out[i] = out[i], out[0]
			break
		}
	}
	return out
}

// fsKind is the kind of a file system type: the drivers of one on-disk
// format are one kind.
func fsKind(fsType string) string {
	switch fsType {
	case "ntfs", "ntfs3", "fuseblk":
		return "ntfs"
	case "msdos", "vfat":
		return "vfat"
	}
	return fsType
}

func (t *Table) volume(m Mount) Volume {
	v := Volume{Mount: m}
	if strings.HasPrefix(m.Source, "/dev/") || m.Major != 0 {
		v.UUID, v.Label = t.identify(m)
	}
	v.External = External(m, t.usbOrRemovable(m))
	return v
}

// identify finds the UUID and label of a mount's device: through the
// /dev/disk/by-uuid and by-label links when udev made them, else by asking
// blkid about the mount's source (the file system's superblock, or blkid's
// cache). A device neither knows has neither.
func (t *Table) identify(m Mount) (string, string) {
	key := [2]uint32{m.Major, m.Minor}
	t.mu.Lock()
	defer t.mu.Unlock()
	if id, ok := t.ids[key]; ok {
		return id[0], id[1]
	}
	uuid := linkTo(t.byUUID, m.Major, m.Minor)
	label := linkTo(t.byLabel, m.Major, m.Minor)
	if uuid == "" && label == "" && strings.HasPrefix(m.Source, "/dev/") {
		uuid, label = blkid(m.Source)
	}
	t.ids[key] = [2]string{uuid, label}
	return uuid, label
}

// linkTo returns the name of the link in dir that leads to the block device
// major:minor, decoded (udev writes \x20 for a space), or "".
func linkTo(dir string, major, minor uint32) string {
	es, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	for _, e := range es {
		var st unix.Stat_t
		if unix.Stat(filepath.Join(dir, e.Name()), &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFBLK {
			continue
		}
		if unix.Major(uint64(st.Rdev)) == major && unix.Minor(uint64(st.Rdev)) == minor {
			return decodeUdev(e.Name())
		}
	}
	return ""
}

// decodeUdev decodes udev's \xHH escapes in a by-label name.
func decodeUdev(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// blkid asks util-linux's blkid for a device's UUID and label, read from
// the device itself (-p): its cache can still hold what a loop device held
// before, and a wrong identity would show one drive's files in another.
// Reading the device needs the right to; without it the device has none.
// A device that does not answer within blkidTimeout (a dead drive) has
// neither, and is not asked again by this process. An answer is not kept
// beyond the Table that asked (identify): a loop device reused for another
// image would keep the first image's identity, and a wrong identity would
// show one drive's files as another's.
func blkid(dev string) (string, string) {
	blkidMu.Lock()
	hung := blkidHung[dev]
	blkidMu.Unlock()
	if hung {
		return "", ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), blkidTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "blkid", "-p", "-o", "export", dev).Output()
	if ctx.Err() != nil {
		blkidMu.Lock()
		blkidHung[dev] = true
		blkidMu.Unlock()
		return "", ""
	}
	if err != nil {
		return "", ""
	}
	return parseBlkid(out)
}

// blkidTimeout bounds one blkid run.
const blkidTimeout = 2 * time.Second

var (
	blkidMu   sync.Mutex
	blkidHung = map[string]bool{} // the devices blkid did not answer for in time
)

// parseBlkid reads blkid's export format: KEY=VALUE lines, with special
// characters of a value escaped by a backslash.
func parseBlkid(out []byte) (uuid, label string) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		var b strings.Builder
		for i := 0; i < len(v); i++ {
			if v[i] == '\\' && i+1 < len(v) {
				i++
			}
			b.WriteByte(v[i])
		}
		switch k {
		case "UUID":
			uuid = b.String()
		case "LABEL":
			label = b.String()
		}
	}
	return uuid, label
}

// usbOrRemovable tells from /sys whether a mount's block device sits on USB
// or has the removable flag (itself, or the disk of a partition).
func (t *Table) usbOrRemovable(m Mount) bool {
	if m.Major == 0 {
		return false
	}
	dir, err := filepath.EvalSymlinks(filepath.Join(t.sys, "dev", "block", fmt.Sprintf("%d:%d", m.Major, m.Minor)))
	if err != nil {
		return false
	}
	if strings.Contains(dir, "/usb") {
		return true
	}
	for _, p := range []string{filepath.Join(dir, "removable"), filepath.Join(filepath.Dir(dir), "removable")} {
		b, err := os.ReadFile(p)
		if err == nil {
			return strings.TrimSpace(string(b)) == "1"
		}
		if !errors.Is(err, os.ErrNotExist) {
			return false
		}
	}
	return false
}

// removableTypes are the file systems of drives carried between machines.
var removableTypes = map[string]bool{"vfat": true, "msdos": true, "exfat": true, "ntfs": true, "ntfs3": true,
	"fuseblk": true, "udf": true, "iso9660": true, "hfsplus": true}

// External is the rule of docs/travel.md: a mount is removable or external
// when its block device is (usbOrRemovable: on USB, or flagged removable),
// or when a removable kind of file system (vfat, exfat, ntfs, udf,
// iso9660, hfsplus) is mounted below /media, /run/media or /mnt. The root
// file system and the system's own mounts never are.
func External(m Mount, usbOrRemovable bool) bool {
	if System(m.MountPoint) {
		return false
	}
	if usbOrRemovable {
		return true
	}
	if !removableTypes[m.FSType] {
		return false
	}
	for _, d := range []string{"/media", "/run/media", "/mnt"} {
		if under(m.MountPoint, d) {
			return true
		}
	}
	return false
}

// System reports whether a mount point is the root file system or one of
// the system's own: /boot, /usr, /var, /home, /opt, /srv, /tmp, /efi and
// what lies below /proc, /sys, /dev and /run (except /run/media).
func System(point string) bool {
	switch point {
	case "/", "/home", "/opt", "/srv", "/tmp", "/efi":
		return true
	}
	if under(point, "/run/media") {
		return false
	}
	for _, d := range []string{"/boot", "/usr", "/var", "/proc", "/sys", "/dev", "/run"} {
		if under(point, d) {
			return true
		}
	}
	return false
}

// under reports whether path is dir or below it.
func under(path, dir string) bool {
	return dir == "/" || path == dir || strings.HasPrefix(path, dir+"/")
}

// StableInodes reports whether a file system type keeps a file's inode
// number across mounts. FAT and exFAT make them up at each mount; for an
// unknown type the answer is no.
func StableInodes(fsType string) bool {
	switch fsType {
	case "ext2", "ext3", "ext4", "xfs", "btrfs", "f2fs", "jfs", "reiserfs", "ntfs3", "hfsplus", "udf", "zfs", "nilfs2":
		return true
	}
	return false
}

// Fingerprint describes the file system of v beyond its label, for a
// volume that has no UUID: "KIND:SIZE[:BIRTH]", its kind of file system
// (fsKind), its size in bytes (statfs blocks times fragment size) and,
// when v shows its top directory and the file system records one, that
// directory's birth time (ext4, XFS, btrfs: when it was made). Two drives
// formatted apart differ in one of these almost always; a copy made with
// dd, or a file system resized, does not (or does).
func Fingerprint(v Volume) (string, error) {
	var sf unix.Statfs_t
	if err := unix.Statfs(v.MountPoint, &sf); err != nil {
		return "", fmt.Errorf("statfs %s: %w", v.MountPoint, err)
	}
	fp := fmt.Sprintf("%s:%d", fsKind(v.FSType), uint64(sf.Blocks)*uint64(sf.Frsize))
	var sx unix.Statx_t
	if v.Root == "/" && unix.Statx(unix.AT_FDCWD, v.MountPoint, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BTIME, &sx) == nil &&
		sx.Mask&unix.STATX_BTIME != 0 && (sx.Btime.Sec != 0 || sx.Btime.Nsec != 0) {
		fp += fmt.Sprintf(":%d.%09d", sx.Btime.Sec, sx.Btime.Nsec)
	}
	return fp, nil
}

// SameFingerprint reports whether two fingerprints (Fingerprint) can be of
// one file system: the same kind and size, and the same birth time where
// both have one (a bind mount of a subdirectory shows no top directory).
func SameFingerprint(a, b string) bool {
	af, bf := strings.Split(a, ":"), strings.Split(b, ":")
	if len(af) < 2 || len(bf) < 2 || af[0] != bf[0] || af[1] != bf[1] {
		return false
	}
	return len(af) < 3 || len(bf) < 3 || af[2] == bf[2]
}
