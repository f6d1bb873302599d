package service

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/uow"
	"github.com/indexer/indexer/internal/volume/volumetest"
	"github.com/indexer/indexer/internal/walk"
)

// machineRows returns every row of machine, by path, as the catalog holds it.
func machineRows(t *testing.T, c *Catalog, machine string) []dto.FileWithHash {
	t.Helper()
	var out []dto.FileWithHash
	if _, err := c.Find(context.Background(), FindOptions{Machine: machine, MaxSize: -1, Deleted: true, IncludeArchived: true},
		func(f dto.FileWithHash) error { out = append(out, f); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestVolumeMovesBetweenMounts scans a drive (a loop-mounted image) at one
// place, unmounts it, and scans it again mounted at another: its files are
// rows of the volume, with paths relative to it, shown offline while it is
// not mounted, and the rescan at the new place changes nothing (no DEL, no
// ADD, the same rows). FAT makes up its inode numbers at each mount: its
// rows hold none.
func TestVolumeMovesBetweenMounts(t *testing.T) {
	for _, fsType := range []string{"ext4", "vfat"} {
		t.Run(fsType, func(t *testing.T) {
			ctx := context.Background()
			img := volumetest.Image(t, fsType, "TRAVEL")
			first, unmount := volumetest.Mount(t, img, "first")
			writeFile(t, filepath.Join(first, "a.txt"), []byte("alpha"))
			writeFile(t, filepath.Join(first, "photos", "b.jpg"), []byte("bravo"))
			writeFile(t, filepath.Join(first, "photos", "copy.jpg"), []byte("bravo"))
			arcSettle() // out of the racy window: the first scan records complete validators
			c := openTestCatalog(t)
			opts := ScanOptions{Machine: "host", Workers: 2, Volume: VolumeForce}
			rep, err := c.Scan(ctx, []string{first}, opts)
			if err != nil || rep.Status != dto.ScanComplete {
				t.Fatalf("first scan: %v, %+v", err, rep)
			}
			if len(rep.Volumes) != 1 || rep.Volumes[0].Label != "TRAVEL" || rep.Volumes[0].FSType != fsType {
				t.Fatalf("report's volumes: %+v", rep.Volumes)
			}
			machine := rep.Volumes[0].Machine
			if !strings.HasPrefix(machine, "vol:") || rep.Volumes[0].UUID == "" {
				t.Fatalf("machine %q, UUID %q", machine, rep.Volumes[0].UUID)
			}
			before := machineRows(t, c, machine)
			var paths []string
			for _, f := range before {
				paths = append(paths, f.Path)
				if f.Device != 0 || (fsType == "vfat" && f.Inode != 0) || (fsType == "ext4" && f.Inode == 0) {
					t.Errorf("%s: device %d, inode %d", f.Path, f.Device, f.Inode)
				}
			}
			if want := []string{"/a.txt", "/photos/b.jpg", "/photos/copy.jpg"}; !slices.Equal(paths, want) {
				t.Fatalf("rows of %s: %q, want %q", machine, paths, want)
			}
			if rows := machineRows(t, c, "host"); len(rows) != 0 {
				t.Errorf("the host holds %d rows of the volume", len(rows))
			}

			dev1 := deviceOf(t, first)
			unmount()
			p, err := c.Places(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if ref := p.Ref(machine, "/a.txt"); ref == nil || ref.Mounted || ref.Label != "TRAVEL" {
				t.Errorf("unmounted, /a.txt is %+v, want offline TRAVEL", ref)
			}
			if _, _, ok := p.Abs(machine, "/a.txt"); ok {
				t.Errorf("an offline volume's row has a current path")
			}
			vols, err := c.Volumes(ctx)
			if err != nil || len(vols) != 1 || vols[0].Mounted || vols[0].Files != 3 || vols[0].Bytes != 15 {
				t.Errorf("volumes while unmounted: %+v, %v", vols, err)
			}

			// Another drive takes the loop device the first one had: the
			// volume comes back with another device number.
			volumetest.Mount(t, volumetest.Image(t, "ext4", "OTHER"), "other")
			second, _ := volumetest.Mount(t, img, "second")
			if dev2 := deviceOf(t, second); dev1 == dev2 {
				t.Fatalf("the volume has device %d at both places; the test needs two", dev1)
			}
			rep, err = c.Scan(ctx, []string{second}, opts)
			if err != nil || rep.Status != dto.ScanComplete {
				t.Fatalf("rescan: %v, %+v", err, rep)
			}
			if c := rep.Counts; c.Added != 0 || c.Deleted != 0 || c.Modified != 0 || c.Unchanged != 3 {
				t.Errorf("rescan at %s: %+v, want 3 unchanged and nothing else", second, c)
			}
			if after := machineRows(t, c, machine); !slices.EqualFunc(before, after, sameRow) {
				t.Errorf("rows changed:\nbefore %+v\nafter  %+v", before, after)
			}
			// A root below the mount point is the same rows too.
			rep, err = c.Scan(ctx, []string{filepath.Join(second, "photos")}, opts)
			if err != nil || rep.Counts.Unchanged != 2 || rep.Counts.Added+rep.Counts.Deleted+rep.Counts.Modified != 0 {
				t.Errorf("rescan of photos: %v, %+v", err, rep.Counts)
			}
			p, err = c.Places(ctx)
			if err != nil {
				t.Fatal(err)
			}
			ref := p.Ref(machine, "/photos/b.jpg")
			if ref == nil || !ref.Mounted || ref.AbsPath != filepath.Join(second, "photos", "b.jpg") {
				t.Errorf("mounted, /photos/b.jpg is %+v", ref)
			}
			vols, err = c.Volumes(ctx)
			if err != nil || len(vols) != 1 || !vols[0].Mounted || !slices.Equal(vols[0].MountPoints, []string{second}) {
				t.Errorf("volumes while mounted: %+v, %v", vols, err)
			}
			// dedupe never acts on a volume's rows: not planned with the
			// host's, and a plan for the volume is refused, mounted or not.
			if _, err := c.Plan(ctx, DedupePlanOptions{Action: ActionTrash, Dupes: DupesOptions{Machine: machine}}); !errors.Is(err, ErrVolumePlan) {
				t.Errorf("a plan for the volume: %v, want ErrVolumePlan", err)
			}
			if plan, err := c.Plan(ctx, DedupePlanOptions{Action: ActionTrash, Dupes: DupesOptions{Machine: "host"}}); err != nil || len(plan.Groups) != 0 {
				t.Errorf("the host's plan: %+v, %v; want no groups", plan.Groups, err)
			}
			crafted := dto.DedupePlan{Version: dto.DedupePlanVersion, Machine: machine, Action: ActionTrash,
				Groups: []dto.DedupeGroup{{Keep: dto.DedupeCopy{Names: []dto.DedupeName{{Path: "/photos/b.jpg"}}},
					Act: []dto.DedupeCopy{{Names: []dto.DedupeName{{Path: "/photos/copy.jpg"}}}}}}}
			if _, err := c.Apply(ctx, &crafted, ApplyOptions{Machine: machine, Trash: t.TempDir()}); !errors.Is(err, ErrVolumePlan) {
				t.Errorf("applying a plan for the volume: %v, want ErrVolumePlan", err)
			}
			if _, err := os.Stat(filepath.Join(second, "photos", "copy.jpg")); err != nil {
				t.Errorf("the volume's copy: %v", err)
			}
			var roots []dto.ScanRoot
			if err := c.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
				roots, err = r.Volumes.Roots(ctx, rep.ID)
				return err
			}); err != nil || len(roots) != 1 || roots[0].Volume != machine || roots[0].FSType != fsType || roots[0].MountPoint != second {
				t.Errorf("the scan's roots: %+v, %v", roots, err)
			}
		})
	}
}

// deviceOf returns the device number of path.
func deviceOf(t *testing.T, path string) uint64 {
	t.Helper()
	st, err := walk.Follow(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Device
}

// TestScanVolumeNeedsAnIdentity: --volume refuses a root whose file system
// has neither UUID nor label (a tmpfs), in one sentence, before anything
// is recorded.
func TestScanVolumeNeedsAnIdentity(t *testing.T) {
	dir := t.TempDir()
	mountTmpfs(t, dir)
	writeFile(t, filepath.Join(dir, "a.txt"), []byte("alpha"))
	c := openTestCatalog(t)
	rep, err := c.Scan(context.Background(), []string{dir}, ScanOptions{Machine: "host", Workers: 1, Volume: VolumeForce})
	if !errors.Is(err, ErrNoVolumeID) || rep.ID != 0 {
		t.Fatalf("scan --volume of a tmpfs: %v (scan %d), want ErrNoVolumeID", err, rep.ID)
	}
	if !strings.Contains(err.Error(), "tmpfs at "+dir) {
		t.Errorf("the error does not name the file system: %v", err)
	}
	if rows := machineRows(t, c, "host"); len(rows) != 0 {
		t.Errorf("%d rows recorded", len(rows))
	}
	// Without --volume the tmpfs is an ordinary place of the host.
	if _, err := c.Scan(context.Background(), []string{dir}, ScanOptions{Machine: "host", Workers: 1}); err != nil {
		t.Fatal(err)
	}
	if rows := machineRows(t, c, "host"); len(rows) != 1 || rows[0].Path != filepath.Join(dir, "a.txt") {
		t.Errorf("rows: %+v", rows)
	}
}

// sameRow compares rows as a rescan that changed nothing leaves them.
func sameRow(a, b dto.FileWithHash) bool {
	return a.ID == b.ID && a.Path == b.Path && a.ScanID == b.ScanID && a.Operation == b.Operation &&
		a.Validators == b.Validators && a.Hash == b.Hash && a.Modified.Equal(b.Modified)
}
