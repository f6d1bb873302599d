package dto

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
