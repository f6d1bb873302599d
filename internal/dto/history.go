package dto

import "time"

// Change is one file that a scan added (Op ADD), modified (MOD) or marked
// deleted (DEL). Old describes the file before the scan and is unset for an
// addition; New after it, unset for a deletion. Digests are lower-case hex.
type Change struct {
	ID          int64
	ScanID      int64
	Machine     string
	Path        string
	ArchivePath string
	Op          Operation
	OldSize     int64
	OldSHA256   string
	NewSize     int64
	NewSHA256   string
}

// VerifyOutcome is what reading a catalogued file again found.
type VerifyOutcome string

// The outcomes of a verification.
const (
	// VerifyOK: the content has the digests the catalog holds.
	VerifyOK VerifyOutcome = "ok"
	// VerifyCorrupt: the content differs while size and mtime are the
	// catalog's (bit rot, a bad sector, tampering).
	VerifyCorrupt VerifyOutcome = "corrupt"
	// VerifyChanged: size or mtime differ from the catalog's; a rescan
	// takes the new content.
	VerifyChanged VerifyOutcome = "changed"
	// VerifyMissing: the file (or the archive entry) is gone.
	VerifyMissing VerifyOutcome = "missing"
	// VerifyUnreadable: the file could not be read; Detail says why.
	VerifyUnreadable VerifyOutcome = "unreadable"
	// VerifyOffline: the file is on a volume that is not mounted now, so it
	// was not read; never recorded as a verification.
	VerifyOffline VerifyOutcome = "offline"
)

// Verification is the last verification of one catalogued file.
type Verification struct {
	FileID   int64
	Verified time.Time
	Outcome  VerifyOutcome
	// Expected is the catalog's content when verified; Actual what was
	// read (set for ok and corrupt).
	Expected FileHash
	Actual   FileHash
	Detail   string
}

// VerifyTarget is a catalogued file to verify, with what the catalog holds
// of it and its last verification (zero: never).
type VerifyTarget struct {
	FileID      int64
	Path        string
	ArchivePath string
	Size        int64
	MtimeNS     int64
	Inode       uint64
	Device      uint64
	Hash        FileHash
	Verified    time.Time
}

// CorruptFile is a verification finding of corruption not resolved since.
type CorruptFile struct {
	Machine     string    `json:"machine"`
	Path        string    `json:"path"`
	ArchivePath string    `json:"archive_path,omitempty"`
	Verified    time.Time `json:"verified"`
	Expected    string    `json:"expected_sha256"`
	Actual      string    `json:"actual_sha256"`
}

// VerifySummary is what stats and health show of verification.
type VerifySummary struct {
	LastVerified time.Time     `json:"last_verified"` // zero: never
	Verified     int64         `json:"files_verified"`
	Corrupt      []CorruptFile `json:"corrupt"`
}

// DiffFile is a file added or deleted between two points of a catalog's
// history, with its content then.
type DiffFile struct {
	Path        string `json:"path"`
	ArchivePath string `json:"archive_path,omitempty"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	ScanID      int64  `json:"scan"` // the scan that saw the change
}

// DiffModified is a file whose content changed between two points.
type DiffModified struct {
	Path        string `json:"path"`
	ArchivePath string `json:"archive_path,omitempty"`
	OldSize     int64  `json:"old_size"`
	NewSize     int64  `json:"new_size"`
	OldSHA256   string `json:"old_sha256"`
	NewSHA256   string `json:"new_sha256"`
	ScanID      int64  `json:"scan"` // the last scan that saw it change
}

// DiffMove is a deletion and an addition of the same content on one machine.
type DiffMove struct {
	From            string `json:"from"`
	FromArchivePath string `json:"from_archive_path,omitempty"`
	To              string `json:"to"`
	ToArchivePath   string `json:"to_archive_path,omitempty"`
	Size            int64  `json:"size"`
	SHA256          string `json:"sha256"`
	ScanID          int64  `json:"scan"` // the scan that saw the addition
	// InDirMove is set when the move is one of a DirMove's.
	InDirMove bool `json:"in_dir_move,omitempty"`
}

// DirMove is a directory whose files moved together: every one of Files
// moves kept its path below From, now below To.
type DirMove struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Files int    `json:"files"`
	Bytes int64  `json:"bytes"`
}

// DiffTotals count a diff's files and their bytes (for modified files, the
// new size).
type DiffTotals struct {
	Added         int   `json:"added"`
	AddedBytes    int64 `json:"added_bytes"`
	Modified      int   `json:"modified"`
	ModifiedBytes int64 `json:"modified_bytes"`
	Deleted       int   `json:"deleted"`
	DeletedBytes  int64 `json:"deleted_bytes"`
	Moved         int   `json:"moved"`
	MovedBytes    int64 `json:"moved_bytes"`
}

// Diff is what changed on one machine between two points of the catalog's
// history: after scan After, up to and including scan UpTo.
type Diff struct {
	Machine string `json:"machine"`
	After   int64  `json:"after_scan"`
	UpTo    int64  `json:"up_to_scan"`
	// LogStart is set when the interval begins before the change log does
	// (it was pruned, or the catalog predates it): changes of scans up to
	// it are not known.
	LogStart  int64          `json:"log_starts_after_scan,omitempty"`
	Added     []DiffFile     `json:"added"`
	Modified  []DiffModified `json:"modified"`
	Deleted   []DiffFile     `json:"deleted"`
	Moved     []DiffMove     `json:"moved"`
	MovedDirs []DirMove      `json:"moved_dirs"`
	Totals    DiffTotals     `json:"totals"`
}
