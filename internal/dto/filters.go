package dto

import "time"

// Like is a coarse filter on a text column, rendered as LIKE: the text holds
// Parts in order; with Prefix the first part starts it, with Suffix the last
// ends it; with Lower the lower-cased text is compared (Parts must then be
// lower case). Databases differ on the case-sensitivity of LIKE, so a Like
// may keep more rows than an exact match would: callers filter exactly after.
// The zero Like keeps everything.
type Like struct {
	Parts          []string
	Prefix, Suffix bool
	Lower          bool
}

// All reports whether l keeps every row.
func (l Like) All() bool { return len(l.Parts) == 0 && !(l.Prefix && l.Suffix) }

// FindFilter selects catalog entries. Every set field must hold.
type FindFilter struct {
	Name    []Like // on the file name, all of them
	Path    []Like // on the path, all of them
	Hash    string // a digest in lower-case hex (see repo.CheckHash)
	MinSize int64
	MaxSize int64  // < 0 for no bound
	Machine string // "" for all
	Under   string // a subtree (path prefix); "" for everywhere
	// UnderIsHost says Under is a path on this host: it then matches the
	// rows of machines that are no volume's, and UnderVolumes the rows of
	// the volumes mounted within it.
	UnderIsHost  bool
	UnderVolumes []VolumeSubtree
	Deleted      bool // also DEL rows
	// IncludeArchived also lists entries inside archives.
	IncludeArchived bool
}

// VolumeSubtree is a subtree of a volume's rows: Path is a path of the
// volume (see VolumeMachinePrefix), "/" for all of it.
type VolumeSubtree struct {
	Machine, Path string
}

// DupeFilter selects the files that take part in duplicate grouping. Only
// present files (not DEL) with a content hash ever do.
type DupeFilter struct {
	Machine string   // one machine; "" for all
	Under   []string // subtrees (path prefixes), any of them; none for everywhere
	// UnderIsHost says Under are paths on this host: they then match the
	// rows of machines that are no volume's, and UnderVolumes the rows of
	// the volumes mounted within them.
	UnderIsHost     bool
	UnderVolumes    []VolumeSubtree
	MinSize         int64  // smallest file size in bytes
	MaxSize         int64  // largest file size in bytes; < 0 for no bound
	Name            string // a shell pattern the file name matches (see db.GlobFunction); "" for all
	IncludeArchived bool   // also entries inside archives
	// Where, when set, tells where a file of a volume (a vol: machine) is
	// now: its current absolute path, and the device and inode found there
	// (0 when it cannot be stat'ed); false while the volume is not
	// mounted. Such a file is one copy with every file of another machine
	// (not a volume) recorded at that path, or with that device and inode:
	// the same file, catalogued twice (see repo's markVolumeLinks).
	Where func(machine, path string) (abs string, device, inode uint64, ok bool)
}

// DirFilter selects the directories a listing considers.
type DirFilter struct {
	Machine string // one machine; "" for all
	Under   string // at or below this path; "" for everywhere
	MinSize int64
	Content bool // group by content digest, not tree digest
}

// VerifySelect chooses the files to verify.
type VerifySelect struct {
	Machine string
	Under   []string  // paths; none means every file of Machine
	Before  time.Time // when set, only files last verified before it, or never
}
