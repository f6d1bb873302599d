package service

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/repo"
	"github.com/indexer/indexer/internal/uow"
	"github.com/indexer/indexer/internal/volume"
	"github.com/indexer/indexer/internal/walk"
)

// VolumeMode says whether a scan records the files of a root relative to
// the volume (file system) that holds it.
type VolumeMode int

const (
	// VolumeAuto records relative to their volume the roots on a file
	// system with a UUID that is removable or external (volume.External),
	// or that the catalog knows already as a volume. A label alone is not
	// enough: two drives can share one (see VolumeForce).
	VolumeAuto VolumeMode = iota
	// VolumeForce records every root relative to its volume; a root whose
	// file system has neither UUID nor label is an error.
	VolumeForce
	// VolumeOff records every root by its absolute path on the machine.
	VolumeOff
)

// ErrNoVolumeID is returned by a scan with VolumeForce of a root whose file
// system has neither UUID nor label.
var ErrNoVolumeID = errors.New("has no UUID or label to know it by")

// ErrOtherDrive is returned by a scan with VolumeForce of a drive that has
// the label of a volume known by its label alone, but another fingerprint
// (volume.Fingerprint): another drive, whose files must not take the
// volume's rows' place (they would become DEL).
var ErrOtherDrive = errors.New("another drive with the same label")

// ScanVolume is a volume a scan recorded files relative to.
type ScanVolume struct {
	Machine    string // the machine name its files are rows of
	UUID       string
	Label      string
	FSType     string
	MountPoint string
	Roots      []string // the roots on it, absolute
}

// scanPart is the roots of a scan recorded under one machine: the host's
// (vol nil), or one volume's.
type scanPart struct {
	machine string
	vol     *volume.Volume
	roots   []string
	infos   []dto.ScanRoot
	// elsewhere: the devices of the volumes mounted now whose files are
	// recorded apart (known ones with a UUID, and those of this scan), by
	// the reason the walk does not enter them (recordedApart).
	elsewhere map[uint64]string
	// fingerprint: the volume's (volume.Fingerprint), recorded with it.
	fingerprint string
}

// splitByVolume groups roots by where their files are recorded. The roots
// recorded relative to a volume are walked by their real path (symlinks
// resolved), so that every path the walk meets starts with the volume's
// mount point. Roots that cannot be resolved (missing ones) stay the
// host's: the walk reports them.
//
// A host walk (or another volume's) that reaches the mount of a volume
// does not enter it: its files are that volume's rows, and rows of this
// machine for them too would list one file as two copies of itself.
func (c *Catalog) splitByVolume(ctx context.Context, roots []string, opts ScanOptions) ([]scanPart, error) {
	host := scanPart{machine: opts.Machine}
	var known []dto.Volume
	if err := c.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		var err error
		known, err = r.Volumes.All(ctx)
		return err
	}); err != nil {
		return nil, err
	}
	var table *volume.Table
	var err error
	if table, err = volume.Load(); err != nil {
		if opts.Volume == VolumeForce {
			return nil, err
		}
		c.log.Warn("cannot read the mount table; files are recorded by their absolute paths", "err", err)
		host.roots = roots
		return []scanPart{host}, nil
	}
	elsewhere := map[uint64]string{}
	knownUUID := map[string]bool{}
	byMachine := map[string]dto.Volume{}
	for _, k := range known {
		byMachine[k.Machine] = k
		if k.UUID == "" {
			continue
		}
		knownUUID[k.UUID] = true
		for _, m := range table.Mounted(k.UUID, "", k.FSType) {
			elsewhere[m.Device()] = recordedApart(k.Label, k.UUID)
		}
	}
	var vols []scanPart
	for _, root := range roots {
		real, err := filepath.EvalSymlinks(root)
		if err != nil {
			host.roots = append(host.roots, root)
			continue
		}
		v, err := table.Find(real)
		if err != nil {
			if opts.Volume == VolumeForce {
				return nil, fmt.Errorf("%s: %w", root, err)
			}
			host.roots = append(host.roots, root)
			continue
		}
		info := dto.ScanRoot{Root: root, UUID: v.UUID, Label: v.Label, FSType: v.FSType, MountPoint: v.MountPoint}
		relative := opts.Volume == VolumeForce || (opts.Volume == VolumeAuto && v.UUID != "" && (v.External || knownUUID[v.UUID]))
		if opts.Volume == VolumeForce && !v.Identified() {
			return nil, fmt.Errorf("%s: its file system (%s at %s) %w, so --volume cannot record it relative to it", root, v.FSType, v.MountPoint, ErrNoVolumeID)
		}
		if !relative {
			host.roots = append(host.roots, root)
			host.infos = append(host.infos, info)
			continue
		}
		machine := dto.VolumeMachine(v.UUID, v.Label)
		info.Root, info.Volume = real, machine
		i := slices.IndexFunc(vols, func(p scanPart) bool { return p.machine == machine })
		if i < 0 {
			fp, err := volume.Fingerprint(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", root, err)
			}
			if k, ok := byMachine[machine]; ok && v.UUID == "" && k.Fingerprint != "" && !volume.SameFingerprint(fp, k.Fingerprint) {
				return nil, fmt.Errorf("%s: %w: the file system mounted at %s has the label of a drive the catalog knows by its label alone (%s), but its type, size or creation time (%s) differs from that drive's (%s); give it a UUID (tune2fs -U random) or scan it with --no-volume",
					root, ErrOtherDrive, v.MountPoint, v.Label, fp, k.Fingerprint)
			}
			vols = append(vols, scanPart{machine: machine, vol: &v, fingerprint: fp})
			i = len(vols) - 1
		}
		vols[i].roots = append(vols[i].roots, real)
		vols[i].infos = append(vols[i].infos, info)
	}
	for _, p := range vols {
		elsewhere[p.vol.Device()] = recordedApart(p.vol.Label, p.vol.UUID)
	}
	var parts []scanPart
	if len(host.roots) > 0 {
		host.elsewhere = elsewhere
		parts = append(parts, host)
	}
	for _, p := range vols {
		slices.Sort(p.roots)
		p.roots = slices.Compact(p.roots)
		p.elsewhere = map[uint64]string{}
		for d, why := range elsewhere {
			if d != p.vol.Device() {
				p.elsewhere[d] = why
			}
		}
		parts = append(parts, p)
	}
	return parts, nil
}

// recordedApart is the reason a walk does not enter the mount of a volume
// whose files are recorded as its own.
func recordedApart(label, uuid string) string {
	return fmt.Sprintf("recorded as volume %s; scan it by its mount point", cmp.Or(label, uuid))
}

// notWalked is the walk's Elsewhere: the reason a directory on another
// device is not walked, when it is the mount of a volume recorded apart
// (said on stderr too, with the way to scan it).
func (s *scanRun) notWalked(path string, st walk.Stat) string {
	why := s.elsewhere[st.Device]
	if why != "" {
		s.c.log.Warn("not walked: the files of this mount are "+why, "path", path)
	}
	return why
}

// cat returns a path of the walk as the catalog records it: relative to
// the volume's top directory when the scan records a volume.
func (s *scanRun) cat(p string) string {
	if s.vol == nil {
		return p
	}
	return s.vol.Rel(p)
}

// abs returns a path of the catalog as the walk meets it.
func (s *scanRun) abs(p string) string {
	if s.vol == nil {
		return p
	}
	if a, ok := s.vol.Abs(p); ok {
		return a
	}
	return p
}

// catalogRoots are the roots as the scans row records them.
func (s *scanRun) catalogRoots() []string {
	out := make([]string, len(s.rep.Roots))
	for i, r := range s.rep.Roots {
		out[i] = s.cat(r)
	}
	return out
}

// validators are a file's validators as its row records them. A volume's
// device number changes from mount to mount, so its rows hold 0 (the
// machine name tells the file system); its inode numbers are kept only
// where the file system keeps them across mounts (not FAT or exFAT, which
// make them up at each mount).
func (s *scanRun) validators(v dto.Validators) dto.Validators {
	if s.vol != nil {
		v.Device = 0
		if !volume.StableInodes(s.vol.FSType) {
			v.Inode = 0
		}
	}
	return v
}

// eachPresentUnder calls fn with the present rows at or below root (a path
// of the walk), their paths as the walk meets them. A volume's rows have no
// device number to compare with a path's: they come with 0 (unknown).
func (s *scanRun) eachPresentUnder(ctx context.Context, r *uow.Repos, root string, fn func(repo.PresentRow) error) error {
	return r.Files.EachPresentUnder(ctx, s.opts.Machine, s.cat(root), func(row repo.PresentRow) error {
		if s.vol != nil {
			row.Path = s.abs(row.Path)
			row.Device, row.Inode = 0, 0
		}
		return fn(row)
	})
}

// recordVolume records, in the scan's first transaction, the file system
// of each root and, for a volume, the volume itself with this scan as its
// last.
func (s *scanRun) recordVolume(ctx context.Context, r *uow.Repos, host string) error {
	infos := make([]dto.ScanRoot, len(s.infos))
	for i, in := range s.infos {
		in.ScanID = s.rep.ID
		infos[i] = in
	}
	if err := r.Volumes.RecordRoots(ctx, infos); err != nil {
		return err
	}
	if s.vol == nil {
		return nil
	}
	return r.Volumes.Record(ctx, dto.Volume{Machine: s.opts.Machine, UUID: s.vol.UUID, Label: s.vol.Label,
		FSType: s.vol.FSType, MountPoint: s.vol.MountPoint, Host: host,
		StableInodes: volume.StableInodes(s.vol.FSType), LastScan: s.rep.ID, Fingerprint: s.fingerprint})
}
