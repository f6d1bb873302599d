package dto

// Exported is one row of files as `export --format jsonl` prints it: every
// column of the catalog. Times are RFC 3339 in UTC (created is "" where the
// file system records no birth time); digests lower-case hex, "" where the
// row has none; scan_id 0 for a row no scan wrote (an import).
type Exported struct {
	ID             int64     `json:"id"`
	Machine        string    `json:"machine"`
	Path           string    `json:"path"`
	PathB64        string    `json:"path_b64,omitempty"`
	ArchivePath    string    `json:"archive_path"`
	ArchivePathB64 string    `json:"archive_path_b64,omitempty"`
	Name           string    `json:"name"`
	Size           int64     `json:"size"`
	Created        string    `json:"created"`
	Modified       string    `json:"modified"`
	Scanned        string    `json:"scanned"`
	Operation      Operation `json:"operation"`
	IsArchived     bool      `json:"is_archived"`
	ScanID         int64     `json:"scan_id"`
	MD5            string    `json:"md5"`
	SHA1           string    `json:"sha1"`
	SHA256         string    `json:"sha256"`
	MtimeNS        int64     `json:"mtime_ns"`
	CtimeNS        int64     `json:"ctime_ns"`
	Inode          uint64    `json:"inode"`
	Device         uint64    `json:"device"`
	Nlink          uint64    `json:"nlink"`
}

// NewExported returns f as export prints it.
func NewExported(f FileWithHash) Exported {
	e := Exported{ID: f.ID, Machine: f.Machine, Path: f.Path, PathB64: PathB64(f.Path),
		ArchivePath: f.ArchivePath, ArchivePathB64: PathB64(f.ArchivePath), Name: f.Name, Size: f.Size,
		Modified: JSONTime(f.Modified), Scanned: JSONTime(f.Scanned), Operation: f.Operation,
		IsArchived: f.IsArchived, ScanID: f.ScanID, MD5: f.Hash.MD5, SHA1: f.Hash.SHA1, SHA256: f.Hash.SHA256,
		MtimeNS: f.MtimeNS, CtimeNS: f.CtimeNS, Inode: f.Inode, Device: f.Device, Nlink: f.Nlink}
	if !f.Created.IsZero() {
		e.Created = JSONTime(f.Created)
	}
	return e
}
