package dto

// Dir is a directory of the catalog. Tree, Content and ContentSum are nil
// when the directory has no digests: something below it is not held in full.
type Dir struct {
	ID       int64
	Machine  string
	Path     string
	Parent   string // the directory above; "" for "/"
	Complete bool   // its last listing held each of its entries in full
	ScanID   int64
	Size     int64 // bytes of the files below it
	Files    int64 // files below it
	Tree     []byte
	Content  []byte
	// ContentSum is the sum modulo 2^256 of one value per file content
	// below it, from which Content is computed.
	ContentSum []byte
}

// DirFile is a present plain file as a directory digest sees it.
type DirFile struct {
	Path   string // its directory, for listings of a subtree; else its name
	Size   int64
	SHA256 []byte // nil when never hashed
	Device uint64
	Inode  uint64
	Nlink  uint64
	// Exec is the file's executable bit; ExecUnknown is set where the
	// catalog does not record it (files catalogued before it did).
	Exec, ExecUnknown bool
	// Deleted is set in a scan's changes for a file now gone (DEL).
	Deleted bool
}

// DirGroup is a set of identical directories.
type DirGroup struct {
	Digest      string   `json:"digest"` // hex
	Size        int64    `json:"size"`   // bytes of one directory
	Files       int64    `json:"files"`  // files in one directory
	Reclaimable int64    `json:"reclaimable"`
	Dirs        []DirRef `json:"dirs"`
}

// DirRef names a directory in a listing. Link numbers the sets of
// directories whose files are hard links of each other's (0: none).
type DirRef struct {
	Machine string `json:"machine"`
	Path    string `json:"path"`
	Link    int    `json:"-"`
}

// DirTotals sums up a listing of duplicate directories.
type DirTotals struct {
	Groups      int64 `json:"groups_total"`
	Dirs        int64 `json:"dirs_total"`
	Reclaimable int64 `json:"reclaimable_total"`
}

// DirSubset is a directory whose files are all held by another, counting
// multiplicity.
type DirSubset struct {
	Dir   DirRef `json:"dir"`
	Size  int64  `json:"size"`
	Files int64  `json:"files"`
	In    DirRef `json:"in"`
	// Extra is how many files In holds that Dir lacks.
	Extra int64 `json:"extra"`
}

// MarshalJSON writes {"machine", "path"}, with "linked": true for a
// directory in a link set and "path_b64" for a path that is not UTF-8.
func (d DirRef) MarshalJSON() ([]byte, error) {
	b := append([]byte(`{"machine":`), appendString(nil, d.Machine)...)
	b = append(b, `,"path":`...)
	b = appendString(b, d.Path)
	if d.Link > 0 {
		b = append(b, `,"linked":true`...)
	}
	if s := PathB64(d.Path); s != "" {
		b = append(b, `,"path_b64":"`...)
		b = append(b, s...)
		b = append(b, '"')
	}
	return append(b, '}'), nil
}
