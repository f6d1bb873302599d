package dto

import (
	"encoding/json"
	"time"
)

// DupeTotals sum up a duplicate listing.
type DupeTotals struct {
	Groups      int64 `json:"groups_total"`
	Files       int64 `json:"files_total"`
	Reclaimable int64 `json:"reclaimable_total"`
}

// Location is one place a content lives: a machine, a path and, for an entry
// of an archive, the entry's inner path.
type Location struct {
	Machine     string `json:"machine"`
	Path        string `json:"path"`
	ArchivePath string `json:"archive_path,omitempty"`
}

// LookupResult says whether the content of one local file is in the catalog,
// and where. Error is set, and the rest empty, when the file could not be read.
type LookupResult struct {
	File      string     `json:"file"`
	SHA256    string     `json:"sha256,omitempty"`
	Size      int64      `json:"size"`
	Found     bool       `json:"found"`
	Locations []Location `json:"locations"`
	Error     string     `json:"error,omitempty"`
}

// MarshalJSON adds "file_b64" when File is not valid UTF-8 (see PathB64).
func (r LookupResult) MarshalJSON() ([]byte, error) {
	type plain LookupResult
	if r.Locations == nil {
		r.Locations = []Location{}
	}
	return json.Marshal(struct {
		plain
		FileB64 string `json:"file_b64,omitempty"`
	}{plain(r), PathB64(r.File)})
}

// MachineStats are the totals of one machine's present files.
type MachineStats struct {
	Machine string `json:"machine"`
	Files   int64  `json:"files"`
	Bytes   int64  `json:"bytes"`
	Deleted int64  `json:"deleted"`
}

// ExtensionStats are the totals of the present files of one extension
// (lower-cased, without the dot; "" for names without one).
type ExtensionStats struct {
	Extension string `json:"extension"`
	Files     int64  `json:"files"`
	Bytes     int64  `json:"bytes"`
}

// ScanSummary is one scan as `indexer stats` reports it.
type ScanSummary struct {
	ID         int64      `json:"id"`
	Machine    string     `json:"machine"`
	Roots      []string   `json:"roots"`
	Started    time.Time  `json:"started"`
	Finished   *time.Time `json:"finished,omitempty"`
	Status     ScanStatus `json:"status"`
	DurationMS float64    `json:"duration_ms"`
	ScanCounts
}

// Stats are the catalog's totals, as `indexer stats` reports them. Files and
// bytes count present plain files (not DEL, not inside archives), Deleted the
// DEL rows, ArchiveEntries the present entries of archives, Contents the
// distinct contents of all present rows; duplicates are counted as `indexer
// dupes` counts them with its defaults.
type Stats struct {
	Files            int64            `json:"files"`
	Bytes            int64            `json:"bytes"`
	Deleted          int64            `json:"deleted"`
	ArchiveEntries   int64            `json:"archive_entries"`
	Contents         int64            `json:"distinct_contents"`
	DuplicateGroups  int64            `json:"duplicate_groups"`
	DuplicateFiles   int64            `json:"duplicate_files"`
	ReclaimableBytes int64            `json:"reclaimable_bytes"`
	Machines         []MachineStats   `json:"machines"`
	Extensions       []ExtensionStats `json:"top_extensions"`
	Scans            []ScanSummary    `json:"last_scans"`
	// Verification: when verify last ran, and corruption not resolved since.
	Verification VerifySummary `json:"verification"`
}
