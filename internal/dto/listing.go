package dto

import "time"

// Found is one entry as `find --json` prints it, and the API's /api/find:
// path_b64 and archive_path_b64 appear beside paths that are not UTF-8.
type Found struct {
	Machine        string    `json:"machine"`
	Path           string    `json:"path"`
	PathB64        string    `json:"path_b64,omitempty"`
	ArchivePath    string    `json:"archive_path,omitempty"`
	ArchivePathB64 string    `json:"archive_path_b64,omitempty"`
	Size           int64     `json:"size"`
	Modified       string    `json:"modified"`
	MD5            string    `json:"md5"`
	SHA1           string    `json:"sha1"`
	SHA256         string    `json:"sha256"`
	Operation      Operation `json:"operation"`
}

// NewFound returns f as find prints it.
func NewFound(f FileWithHash) Found {
	return Found{Machine: f.Machine, Path: f.Path, PathB64: PathB64(f.Path),
		ArchivePath: f.ArchivePath, ArchivePathB64: PathB64(f.ArchivePath),
		Size: f.Size, Modified: JSONTime(f.Modified), MD5: f.Hash.MD5, SHA1: f.Hash.SHA1, SHA256: f.Hash.SHA256,
		Operation: f.Operation}
}

// JSONTime formats a file's time for JSON output as RFC 3339 in UTC with its
// nanoseconds, what encoding/json writes for a time.Time. A file's time can
// lie beyond the year 9999 (a tar entry can hold any), where encoding/json
// fails; Format writes the year's digits instead.
func JSONTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// ScanResult is a finished scan as `scan --json` prints it.
type ScanResult struct {
	ScanID   int64    `json:"scan_id"`
	Roots    []string `json:"roots"`
	RootsB64 []string `json:"roots_b64,omitempty"`
	Status   string   `json:"status"`
	ScanCounts
	// ArchiveEntriesSeen is how many of files_seen are entries inside
	// archives (stats counts them apart from files).
	ArchiveEntriesSeen int64 `json:"archive_entries_seen"`
	// ExcludedMarkedGone is how many rows of files an --exclude pattern
	// matched were marked DEL (not counted in deleted).
	ExcludedMarkedGone int64            `json:"excluded_marked_gone"`
	DurationMS         int64            `json:"duration_ms"`
	ThroughputMBps     float64          `json:"throughput_mb_s"`
	SkippedByReason    map[string]int64 `json:"skipped_by_reason"`
	Failures           []PathError      `json:"failures"`
	Skips              []PathReason     `json:"skips"`
}

// PathError and PathReason carry path_b64 beside a path that is not valid
// UTF-8, as every JSON output does.
type PathError struct {
	Path    string `json:"path"`
	PathB64 string `json:"path_b64,omitempty"`
	Error   string `json:"error"`
}

// PathReason is a path left out and why.
type PathReason struct {
	Path    string `json:"path"`
	PathB64 string `json:"path_b64,omitempty"`
	Reason  string `json:"reason"`
}

// TreeEntry is one entry of a directory level: a subdirectory with what lies
// below it, or a file. DupBytes are the bytes of those files whose content is
// also present somewhere else in the catalog.
type TreeEntry struct {
	Name     string `json:"name"`
	Path     string `json:"path"`
	PathB64  string `json:"path_b64,omitempty"`
	Dir      bool   `json:"dir"`
	Files    int64  `json:"files"`
	Bytes    int64  `json:"bytes"`
	DupBytes int64  `json:"dup_bytes"`
}

// DupesPage is one page of duplicate groups and the totals of all of them.
type DupesPage struct {
	Groups []DupeGroup `json:"groups"`
	DupeTotals
	Offset int `json:"offset"`
	Limit  int `json:"limit"`
}

// Content is one content and every present place it lives.
type Content struct {
	SHA256    string  `json:"sha256"`
	SHA1      string  `json:"sha1"`
	MD5       string  `json:"md5"`
	Size      int64   `json:"size"`
	Locations []Found `json:"locations"`
}
