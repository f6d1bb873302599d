package service

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"syscall"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/uow"
	"github.com/indexer/indexer/internal/walk"
)

// LookupOptions tune Lookup.
type LookupOptions struct {
	// Machine is the machine Lookup runs on: its catalogued files can be
	// checked on disk, and one of them may be the looked-up file itself.
	Machine string
	// NoCheck trusts the catalog: places on Machine are not checked on disk.
	NoCheck bool
}

// Lookup hashes each local file in one pass, as scan does, and calls fn with
// where its content is in the catalog: every present file and archive entry
// with the same sha256, on any machine. A place that is the looked-up file
// itself (on o.Machine, the same absolute path, or the same device and inode
// as catalogued or as found on disk now; on another machine, the same
// absolute path, device and inode) is no copy: it goes to Self. Every
// other place on o.Machine is checked on disk unless o.NoCheck: it counts
// only when the file (for an archive entry, its archive) is there with the
// catalogued size and modification time, and goes to Stale otherwise.
// Places on other machines cannot be checked and count. A file that cannot
// be read gets a result with Error set, and Lookup goes on with the next.
// Only fn's error, a cancelled ctx or a catalog failure stop it.
func (c *Catalog) Lookup(ctx context.Context, files []string, o LookupOptions, fn func(dto.LookupResult) error) error {
	places, err := c.Places(ctx)
	if err != nil {
		return err
	}
	for _, name := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		res := dto.LookupResult{File: name}
		h, st, err := lookupHash(ctx, name)
		if err != nil {
			res.Error = err.Error()
		} else {
			res.SHA256, res.Size = h.SHA256, h.Size
			var stored []dto.StoredLocation
			err := c.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
				var err error
				stored, err = r.Files.Locations(ctx, h.SHA256)
				return err
			})
			if err != nil {
				return err
			}
			abs, err := filepath.Abs(name)
			if err != nil {
				return fmt.Errorf("resolve %s: %w", name, err)
			}
			var counted []dto.StoredLocation // the places in res.Locations
			for _, p := range stored {
				l := p.Location
				if ref := places.Ref(p.Machine, p.Path); ref != nil {
					// A volume's file: where it is now, as a file of this
					// machine, when its volume is mounted; offline else.
					l.Volume = ref
					if !ref.Mounted {
						l.Check = dto.CheckOffline
						res.Locations = append(res.Locations, l)
						counted = append(counted, p)
						continue
					}
					// Its device and inode as found there now, so that a
					// row of this machine for the same file (its path, or
					// its device and inode) is one copy with it.
					abs, dev, ino, _ := places.Now(p.Machine, p.Path)
					p.Path, p.Machine = abs, o.Machine
					if p.ArchivePath == "" {
						p.Device, p.Inode = dev, ino
					}
				}
				switch {
				case p.Machine != o.Machine && p.ArchivePath == "" && p.Path == abs && sameInode(p.Device, p.Inode, st):
					// Another machine's name, but this file's path, device
					// and inode: this file, scanned before the host (or a
					// container) was renamed. It counts as no copy.
					res.Self = append(res.Self, l)
					continue
				case p.Machine != o.Machine:
					l.Check = dto.CheckOtherMachine
				case p.ArchivePath == "" && (p.Path == abs || sameInode(p.Device, p.Inode, st)):
					res.Self = append(res.Self, l)
					continue
				case o.NoCheck:
					l.Check = dto.CheckSkipped
				default:
					l.Check = checkPlace(p, st)
				}
				switch l.Check {
				case dto.CheckVerified, dto.CheckOtherMachine, dto.CheckSkipped, dto.CheckOffline:
					res.Locations = append(res.Locations, l)
					counted = append(counted, p)
				case checkSelf:
					l.Check = ""
					res.Self = append(res.Self, l)
				default:
					res.Stale = append(res.Stale, l)
				}
			}
			res.Copies = linkPlaces(res.Locations, counted)
			res.Found = len(res.Locations) > 0
		}
		if err := fn(res); err != nil {
			return err
		}
	}
	return nil
}

// linkPlaces numbers, in Link, the sets of locations that are one file: the
// same machine, device and inode as catalogued (hard links, or one file
// reached through a symlinked directory or a bind mount), as dupes counts
// copies, or the same machine, path and archive path (a mounted volume's
// file, resolved to its current path on this machine, and a row of this
// machine for that path: one file catalogued twice). stored[i] is what the
// catalog recorded of locs[i] (a volume's file as resolved); an archive
// entry (inode 0) is its own copy unless named twice so. It returns the
// number of distinct copies.
func linkPlaces(locs []dto.Location, stored []dto.StoredLocation) int {
	type idKey struct {
		machine       string
		device, inode uint64
	}
	type placeKey struct{ machine, path, archivePath string }
	parent := make([]int, len(stored))
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	byID := map[idKey]int{}
	byPlace := map[placeKey]int{}
	for i, p := range stored {
		if p.Inode != 0 {
			k := idKey{p.Machine, p.Device, p.Inode}
			if j, ok := byID[k]; ok {
				parent[find(i)] = find(j)
			} else {
				byID[k] = i
			}
		}
		k := placeKey{p.Machine, p.Path, p.ArchivePath}
		if j, ok := byPlace[k]; ok {
			parent[find(i)] = find(j)
		} else {
			byPlace[k] = i
		}
	}
	size := map[int]int{}
	for i := range stored {
		size[find(i)]++
	}
	sets := map[int]int{}
	for i := range stored {
		r := find(i)
		if size[r] < 2 {
			continue
		}
		if sets[r] == 0 {
			sets[r] = len(sets) + 1
		}
		locs[i].Link = sets[r]
	}
	return len(size)
}

// checkSelf is what checkPlace says of a place that is, on disk now, the
// looked-up file itself.
const checkSelf = "self"

// sameInode reports whether a catalogued device and inode are those of st.
func sameInode(device, inode uint64, st walk.Stat) bool {
	return inode != 0 && device == st.Device && inode == st.Inode
}

// checkPlace examines a catalogued place on this machine: it is verified when
// the file there (an entry's archive) has the catalogued size and mtime.
// self is the looked-up file, which a place reached through another name
// (a symlink, a bind mount) may be although the catalog does not say so.
func checkPlace(p dto.StoredLocation, self walk.Stat) string {
	st, err := walk.Follow(p.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
		return dto.CheckGone
	case err != nil:
		return dto.CheckFailed + ": " + cause(err).Error()
	case p.ArchivePath == "" && sameInode(st.Device, st.Inode, self):
		return checkSelf
	case !st.IsRegular() || st.Size != p.Size || st.MtimeNS != p.MtimeNS:
		return dto.CheckChanged
	}
	return dto.CheckVerified
}

// lookupHash returns the digests of a regular file, read once as scan reads
// it (a file that keeps changing while read is an error), and its stat, or
// an error that names the file. It stats first, so that a directory or a
// named pipe gets a clear sentence.
func lookupHash(ctx context.Context, name string) (dto.FileHash, walk.Stat, error) {
	st, err := walk.Follow(name)
	if err != nil {
		return dto.FileHash{}, walk.Stat{}, fmt.Errorf("cannot read %s: %w", name, cause(err))
	}
	if !st.IsRegular() {
		return dto.FileHash{}, walk.Stat{}, fmt.Errorf("cannot read %s: it is %s, not a regular file", name, db.FileKind(st.Mode))
	}
	_, h, err := hashFile(ctx, name, true, &ScanProgress{})
	if err != nil {
		return dto.FileHash{}, walk.Stat{}, fmt.Errorf("cannot read %s: %w", name, err)
	}
	return h, st, nil
}
