package service

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/uow"
	"github.com/indexer/indexer/internal/volume"
	"github.com/indexer/indexer/internal/walk"
)

// Places tells where the files of volumes are now: each known volume and
// its mounts at the time Places was made (none: offline).
type Places struct {
	vols map[string]placedVolume
}

type placedVolume struct {
	dto.Volume
	mounts []volume.Volume // the mount showing its top directory first
}

// Places reads the known volumes and finds which are mounted now. When
// the mount table cannot be read, every volume is offline (and a warning
// says why).
func (c *Catalog) Places(ctx context.Context) (*Places, error) {
	var vols []dto.Volume
	err := c.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		var err error
		vols, err = r.Volumes.All(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return c.place(vols), nil
}

func (c *Catalog) place(vols []dto.Volume) *Places {
	p := &Places{vols: map[string]placedVolume{}}
	if len(vols) == 0 {
		return p
	}
	table, err := volume.Load()
	if err != nil {
		c.log.Warn("cannot read the mount table; every volume shows as offline", "err", err)
	}
	for _, v := range vols {
		pv := placedVolume{Volume: v}
		if table != nil {
			pv.mounts = table.Mounted(v.UUID, v.Label, v.FSType)
		}
		p.vols[v.Machine] = pv
	}
	return p
}

// Ref returns the volume of a catalog row of machine at path: nil when
// machine is no volume's; else its label and UUID, and where the file is
// now if its volume is mounted.
func (p *Places) Ref(machine, path string) *dto.VolumeRef {
	if p == nil || !dto.IsVolumeMachine(machine) {
		return nil
	}
	v, ok := p.vols[machine]
	if !ok {
		return &dto.VolumeRef{UUID: uuidOf(machine)}
	}
	ref := &dto.VolumeRef{UUID: v.UUID, Label: v.Label}
	for _, m := range v.mounts {
		if abs, ok := m.Abs(path); ok {
			ref.Mounted, ref.MountPoint, ref.AbsPath, ref.AbsPathB64 = true, m.MountPoint, abs, dto.PathB64(abs)
			break
		}
	}
	return ref
}

// Abs returns the current absolute path of a row of machine at path, and
// its device number now: the path itself (device 0: as catalogued) for a
// machine that is no volume's; false for a volume that is not mounted (or
// whose mounts do not show path).
func (p *Places) Abs(machine, path string) (string, uint64, bool) {
	if !dto.IsVolumeMachine(machine) {
		return path, 0, true
	}
	for _, m := range p.vols[machine].mounts {
		if abs, ok := m.Abs(path); ok {
			return abs, m.Device(), true
		}
	}
	return "", 0, false
}

// Now tells where the file of a volume's row (machine, path) is now: its
// current absolute path and the device and inode found there by lstat (0
// when it cannot be stat'ed); false for a machine that is no volume's, or
// a volume that is not mounted (or whose mounts do not show path).
func (p *Places) Now(machine, path string) (string, uint64, uint64, bool) {
	if p == nil || !dto.IsVolumeMachine(machine) {
		return "", 0, 0, false
	}
	abs, _, ok := p.Abs(machine, path)
	if !ok {
		return "", 0, 0, false
	}
	st, err := walk.Lstat(abs)
	if err != nil {
		return abs, 0, 0, true
	}
	return abs, st.Device, st.Inode, true
}

// NowOrLast is Now, and for a volume that is not mounted the path its row
// had where its last scan found it mounted (device and inode 0): rows of
// this machine that name that path are the same file, recorded before it
// was unplugged. It is what dupes links by, which errs towards one copy.
func (p *Places) NowOrLast(machine, path string) (string, uint64, uint64, bool) {
	if abs, dev, ino, ok := p.Now(machine, path); ok {
		return abs, dev, ino, true
	}
	if p == nil || !dto.IsVolumeMachine(machine) {
		return "", 0, 0, false
	}
	v, ok := p.vols[machine]
	if !ok || len(v.mounts) > 0 || v.MountPoint == "" {
		return "", 0, 0, false
	}
	if v.MountPoint == "/" {
		return path, 0, 0, true
	}
	if path == "/" {
		return v.MountPoint, 0, 0, true
	}
	return v.MountPoint + path, 0, 0, true
}

// uuidOf is the UUID in a volume's machine name, "" for one known by label.
func uuidOf(machine string) string {
	rest := machine[len(dto.VolumeMachinePrefix):]
	if len(rest) > 6 && rest[:6] == "label:" {
		return ""
	}
	return rest
}

// Volumes lists the known volumes: what the catalog holds of each, its
// last scan, and where it is mounted now.
func (c *Catalog) Volumes(ctx context.Context) ([]dto.VolumeListing, error) {
	var vols []dto.Volume
	var totals map[string]struct{ files, bytes int64 }
	scanned := map[int64]string{}
	err := c.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		var err error
		if vols, err = r.Volumes.All(ctx); err != nil {
			return err
		}
		t, err := r.Volumes.Totals(ctx)
		if err != nil {
			return err
		}
		totals = map[string]struct{ files, bytes int64 }{}
		for m, v := range t {
			totals[m] = struct{ files, bytes int64 }{v.Files, v.Bytes}
		}
		for _, v := range vols {
			if v.LastScan == 0 {
				continue
			}
			s, err := r.Scans.Get(ctx, v.LastScan)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				continue // forgotten since
			case err != nil:
				return err
			}
			scanned[v.LastScan] = dto.JSONTime(s.Started)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	p := c.place(vols)
	out := make([]dto.VolumeListing, 0, len(vols))
	for _, v := range vols {
		l := dto.VolumeListing{Machine: v.Machine, Label: v.Label, UUID: v.UUID, FSType: v.FSType,
			Files: totals[v.Machine].files, Bytes: totals[v.Machine].bytes, LastScan: v.LastScan,
			LastScanned: scanned[v.LastScan], LastHost: v.Host, LastMount: v.MountPoint, MountPoints: []string{}}
		for _, m := range p.vols[v.Machine].mounts {
			l.MountPoints = append(l.MountPoints, m.MountPoint)
		}
		l.Mounted = len(l.MountPoints) > 0
		out = append(out, l)
	}
	slices.SortStableFunc(out, func(a, b dto.VolumeListing) int {
		if a.Label != b.Label {
			if a.Label < b.Label {
				return -1
			}
			return 1
		}
		return 0
	})
	return out, nil
}

// Rel returns the catalog path, on the volume of machine, of abs (an
// absolute path on this host), and false when machine is no mounted
// volume's or abs lies outside its mounts.
func (p *Places) Rel(machine, abs string) (string, bool) {
	if p == nil || !dto.IsVolumeMachine(machine) {
		return "", false
	}
	for _, m := range p.vols[machine].mounts {
		if under(abs, m.MountPoint) {
			return m.Rel(abs), true
		}
	}
	return "", false
}

// At returns the mounted volume whose mount holds abs (an absolute path on
// this host) and abs as a path of that volume; false when no known volume
// is mounted there. The deepest mount wins.
func (p *Places) At(abs string) (machine, rel string, ok bool) {
	if p == nil {
		return "", "", false
	}
	best := ""
	for name, v := range p.vols {
		for _, m := range v.mounts {
			if under(abs, m.MountPoint) && len(m.MountPoint) > len(best) && m.MountPoint != "/" {
				best, machine, rel, ok = m.MountPoint, name, m.Rel(abs), true
			}
		}
	}
	return machine, rel, ok
}

// Mounted reports whether the volume of machine is mounted now.
func (p *Places) Mounted(machine string) bool {
	return p != nil && len(p.vols[machine].mounts) > 0
}

// under reports whether path is dir or lies below it.
func under(path, dir string) bool {
	return path == dir || dir == "/" || strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}

// Subtrees returns the subtrees of mounted volumes that abs, a path on
// this host, covers: the part of a volume below abs when abs lies within
// one of its mounts, all that a mount shows when the mount lies below abs.
func (p *Places) Subtrees(abs string) []dto.VolumeSubtree {
	if p == nil {
		return nil
	}
	var out []dto.VolumeSubtree
	for _, name := range slices.Sorted(maps.Keys(p.vols)) {
		for _, m := range p.vols[name].mounts {
			switch {
			case under(abs, m.MountPoint):
				out = append(out, dto.VolumeSubtree{Machine: name, Path: m.Rel(abs)})
			case under(m.MountPoint, abs):
				out = append(out, dto.VolumeSubtree{Machine: name, Path: m.Rel(m.MountPoint)})
			}
		}
	}
	return out
}

// underScope resolves the --under paths of a query of machine ("" for
// all): for a volume's machine, paths below its mounts become paths of the
// volume (others are taken as its paths already); else they are paths of
// this host, matching the rows of machines that are no volume's and, in
// vols, those of the volumes mounted there now.
func (c *Catalog) underScope(ctx context.Context, machine string, paths []string) (out []string, host bool, vols []dto.VolumeSubtree, err error) {
	if len(paths) == 0 {
		return paths, false, nil, nil
	}
	places, err := c.Places(ctx)
	if err != nil {
		return nil, false, nil, err
	}
	if dto.IsVolumeMachine(machine) {
		out = make([]string, len(paths))
		for i, p := range paths {
			out[i] = p
			if rel, ok := places.Rel(machine, p); ok {
				out[i] = rel
			}
		}
		return out, false, nil, nil
	}
	for _, p := range paths {
		vols = append(vols, places.Subtrees(p)...)
	}
	return paths, true, vols, nil
}
