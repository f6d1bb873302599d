package repo

import (
	"bytes"
	"cmp"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"unsafe"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
)

// dupesHeldBytes bounds what Dupes holds in memory to order a listing
// itself: about 100 bytes a file of the listing, so 64 MiB hold some
// 600,000 files, the duplicates of a catalog of about two million. A
// larger listing is ordered by the database instead, which spills to
// temporary files and costs about three times as much CPU. A variable so
// that tests can make every listing too large.
var dupesHeldBytes = 64 << 20

// Ordering a listing in SQL sorts every row of it by (reclaimable space,
// sha256, path, machine, archive path): on a catalog of a million files,
// 340,000 rows through the database's sorter, which cost more than reading
// them. Read in content order instead, the rows of a group come together
// and need no sort; Dupes keeps them in a compact form (heldFile, the
// names in one buffer), counts each group's copies as it ends, and sorts
// the groups, a few bytes each, in Go.

// heldGroup is one group of a held listing.
type heldGroup struct {
	sum         [32]byte
	size        int64
	reclaimable int64
	copies      int32
	first, n    int32 // its files: heldDupes.files[first : first+n]
}

// heldFile is one file of a held listing: its machine and directory by
// number, its name and archive path by their ends in heldDupes.text, where
// they follow the end of the file before it. The files of a group are
// often the files of a few directories, and a path names its directory in
// most of its bytes: kept once, the directories leave a held file about 50
// bytes, half of what it takes with its whole path (on the bench's catalog,
// 96 MB of peak RSS instead of 112).
type heldFile struct {
	machine, dir    uint32
	nameEnd, arcEnd uint32
	device, inode   uint64
}

// heldDupes is a listing read in content order and held to be sorted.
type heldDupes struct {
	groups   []heldGroup
	files    []heldFile
	text     []byte
	machines []string
	dirs     []string          // each ending in "/", or "" for a path without one
	dirIndex map[string]uint32 // the number of each of dirs
	dirBytes int               // what dirs and dirIndex hold, about
	where    func(machine, path string) (string, uint64, uint64, bool)
	scratch  []dto.DupeFile // a group's files, to count its copies
	paths    []byte         // the paths of scratch
	// volumeLinked holds, by index in files, Linked of the files of the
	// groups that hold a volume's file, as end found them: where asks
	// the file system, whose answer may change by the time list runs.
	volumeLinked map[int32]bool
}

// heldFileSize and heldGroupSize are what one file and one group cost,
// for the bound.
const (
	heldFileSize  = int(unsafe.Sizeof(heldFile{}))
	heldGroupSize = int(unsafe.Sizeof(heldGroup{}))
)

// size returns the bytes h holds.
func (h *heldDupes) size() int {
	return len(h.text) + len(h.files)*heldFileSize + len(h.groups)*heldGroupSize + h.dirBytes
}

// dir returns the number of the directory of path p: all of p up to its
// last "/".
func (h *heldDupes) dir(p []byte) (uint32, []byte) {
	d := p[:bytes.LastIndexByte(p, '/')+1]
	if i, ok := h.dirIndex[string(d)]; ok {
		return i, p[len(d):]
	}
	i := uint32(len(h.dirs))
	h.dirs = append(h.dirs, string(d))
	h.dirIndex[h.dirs[i]] = i
	h.dirBytes += 2*len(d) + 64 // the string, and its map entry
	return i, p[len(d):]
}

// machine returns the number of the machine named m, a name of the few
// the catalog holds.
func (h *heldDupes) machine(m []byte) uint32 {
	for i, name := range h.machines {
		if name == string(m) {
			return uint32(i)
		}
	}
	h.machines = append(h.machines, string(m))
	return uint32(len(h.machines) - 1)
}

// dupeRows are the rows holdDupes reads: (sha256, size, machine, path,
// archive path, device, inode) of the files of duplicate groups, in content
// order. The bytes row returns are valid until the next call of Next.
type dupeRows interface {
	Next() bool
	row() (sum, machine, path, arc []byte, size, device, inode int64, err error)
	Err() error
	Close() error
}

// sqlDupeRows are dupeRows through database/sql: (sha256, size, machine,
// path, [archive_path,] device, inode), archive_path only when withArchive.
type sqlDupeRows struct {
	*sql.Rows
	withArchive             bool
	sum, machine, path, arc sql.RawBytes
	size, device, inode     int64
}

func (r *sqlDupeRows) row() (sum, machine, path, arc []byte, size, device, inode int64, err error) {
	if r.withArchive {
		err = r.Scan(&r.sum, &r.size, &r.machine, &r.path, &r.arc, &r.device, &r.inode)
	} else {
		err = r.Scan(&r.sum, &r.size, &r.machine, &r.path, &r.device, &r.inode)
	}
	return r.sum, r.machine, r.path, r.arc, r.size, r.device, r.inode, err
}

// rawDupeRows are dupeRows on a raw connection: (sha256, size, machine,
// path, [archive_path,] device, inode), archive_path only when withArchive.
type rawDupeRows struct {
	*db.RawRows
	withArchive bool
}

func (r rawDupeRows) row() (sum, machine, path, arc []byte, size, device, inode int64, err error) {
	if r.withArchive {
		return r.Bytes(0), r.Bytes(2), r.Bytes(3), r.Bytes(4), r.Int64(1), r.Int64(5), r.Int64(6), nil
	}
	return r.Bytes(0), r.Bytes(2), r.Bytes(3), nil, r.Int64(1), r.Int64(4), r.Int64(5), nil
}

// holdDupes reads rows and holds them. It returns nil, and no error, when
// they outgrow limit bytes.
//
// groups and files, when known, are how many there will be about: room is
// made for them at once, and for names of 24 bytes a file.
// mayHold tells whether a listing of groups groups and files files may fit
// in dupesHeldBytes: false when their records alone, names left out, do
// not.
func mayHold(groups, files int) bool {
	return groups*heldGroupSize+files*heldFileSize <= dupesHeldBytes
}

func holdDupes(rows dupeRows, limit int, where func(machine, path string) (string, uint64, uint64, bool),
	groups, files int) (*heldDupes, error) {
	defer rows.Close()
	h := &heldDupes{where: where, dirIndex: map[string]uint32{}}
	if groups*heldGroupSize+files*(heldFileSize+24) <= limit {
		h.groups = make([]heldGroup, 0, groups)
		h.files = make([]heldFile, 0, files)
		h.text = make([]byte, 0, files*24)
	}
	var g *heldGroup
	for rows.Next() {
		sum, machine, path, arc, size, device, inode, err := rows.row()
		if err != nil {
			return nil, fmt.Errorf("read duplicate: %w", err)
		}
		if g == nil || !bytes.Equal(sum, g.sum[:]) {
			if g != nil {
				h.end()
				if h.size() > limit {
					return nil, nil
				}
			}
			if len(sum) != len(g.sum) {
				return nil, fmt.Errorf("read duplicate: a sha256 of %d bytes", len(sum))
			}
			h.groups = append(h.groups, heldGroup{first: int32(len(h.files))})
			g = &h.groups[len(h.groups)-1]
			copy(g.sum[:], sum)
		}
		g.size = max(g.size, size)
		g.n++
		if inode == 0 {
			device = 0 // an inode of 0 is no inode: the file is its own copy
		}
		dir, name := h.dir(path)
		h.text = append(h.text, name...)
		end := len(h.text)
		h.text = append(h.text, arc...)
		h.files = append(h.files, heldFile{machine: h.machine(machine), dir: dir,
			nameEnd: uint32(end), arcEnd: uint32(len(h.text)), device: uint64(device), inode: uint64(inode)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list duplicates: %w", err)
	}
	if g != nil {
		h.end()
	}
	h.scratch = nil
	if h.size() > limit {
		return nil, nil
	}
	return h, nil
}

// end counts the copies of the last group read, and drops it when it has
// fewer than two: one file under several names.
func (h *heldDupes) end() {
	g := &h.groups[len(h.groups)-1]
	// markLinked needs no names; markVolumeLinks, for the groups that hold
	// a volume's file, does. Their views die with this call, before h.text
	// is written again.
	h.scratch = h.scratch[:0]
	for _, f := range h.files[g.first : g.first+g.n] {
		h.scratch = append(h.scratch, dto.DupeFile{Machine: h.machines[f.machine], Device: f.device, Inode: f.inode})
	}
	copies := markLinked(h.scratch)
	if h.where != nil && hasVolumeFile(h.scratch) {
		h.scratch, h.paths = h.filesOf(h.scratch[:0], g, h.view(), h.paths[:0])
		copies = markVolumeLinks(h.scratch, h.where)
		if copies >= 2 {
			if h.volumeLinked == nil {
				h.volumeLinked = map[int32]bool{}
			}
			for i, f := range h.scratch {
				h.volumeLinked[g.first+int32(i)] = f.Linked
			}
		}
	}
	if copies < 2 {
		h.files = h.files[:g.first]
		h.text = h.text[:h.textStart(int(g.first))]
		h.groups = h.groups[:len(h.groups)-1]
		return
	}
	g.copies = int32(copies)
	g.reclaimable = int64(copies-1) * g.size
}

// view returns h.text as a string without copying it: its views are
// valid while h.text is not written.
func (h *heldDupes) view() string {
	return unsafe.String(unsafe.SliceData(h.text), len(h.text))
}

// textStart returns where the names of file i begin in h.text.
func (h *heldDupes) textStart(i int) int {
	if i == 0 {
		return 0
	}
	return int(h.files[i-1].arcEnd)
}

// filesOf appends the files of g to fs, their archive paths views of text
// (h.text as a string) and their paths views of the string of paths, the
// paths of g one after the other, which it builds in paths and returns.
func (h *heldDupes) filesOf(fs []dto.DupeFile, g *heldGroup, text string, paths []byte) ([]dto.DupeFile, []byte) {
	held := h.files[g.first : g.first+g.n]
	start := h.textStart(int(g.first))
	n := 0
	for _, f := range held {
		n += len(h.dirs[f.dir]) + int(f.nameEnd) - start
		start = int(f.arcEnd)
	}
	paths = slices.Grow(paths, n)
	start = h.textStart(int(g.first))
	for _, f := range held {
		paths = append(paths, h.dirs[f.dir]...)
		paths = append(paths, text[start:f.nameEnd]...)
		start = int(f.arcEnd)
	}
	all := unsafe.String(unsafe.SliceData(paths), len(paths))
	start, end := h.textStart(int(g.first)), 0
	for _, f := range held {
		n := len(h.dirs[f.dir]) + int(f.nameEnd) - start
		fs = append(fs, dto.DupeFile{Machine: h.machines[f.machine], Path: all[end : end+n],
			ArchivePath: text[f.nameEnd:f.arcEnd], Device: f.device, Inode: f.inode})
		start, end = int(f.arcEnd), end+n
	}
	return fs, paths
}

// list calls fn for the held groups in listing order: largest reclaimable
// space first, ties by sha256, files by path, machine and archive path.
func (h *heldDupes) list(fn func(dto.DupeGroup) error) error {
	slices.SortFunc(h.groups, func(a, b heldGroup) int {
		if c := cmp.Compare(b.reclaimable, a.reclaimable); c != 0 {
			return c
		}
		return bytes.Compare(a.sum[:], b.sum[:])
	})
	// The files' names are views of h.text, never written again: they
	// stay valid as long as a caller keeps them.
	text := h.view()
	h.text = nil
	for i := range h.groups {
		g := &h.groups[i]
		// Each group's paths are a new string: a caller may keep them.
		fs, _ := h.filesOf(make([]dto.DupeFile, 0, g.n), g, text, nil)
		// Linked as end counted the copies: the files are in held order.
		if h.where != nil && hasVolumeFile(fs) {
			for i := range fs {
				fs[i].Linked = h.volumeLinked[g.first+int32(i)]
			}
		} else {
			markLinked(fs)
		}
		slices.SortFunc(fs, func(a, b dto.DupeFile) int {
			if c := strings.Compare(a.Path, b.Path); c != 0 {
				return c
			}
			if c := strings.Compare(a.Machine, b.Machine); c != 0 {
				return c
			}
			return strings.Compare(a.ArchivePath, b.ArchivePath)
		})
		err := fn(dto.DupeGroup{SHA256: hexOf(g.sum[:]), Size: g.size, Count: int(g.n), Copies: int(g.copies),
			Reclaimable: g.reclaimable, Files: fs})
		if err != nil {
			return err
		}
	}
	return nil
}
