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
// of an archive, the entry's inner path. Check says, in a lookup, what was
// found on disk there (see the Check constants); it is empty elsewhere. Link,
// in a lookup's locations, numbers from 1 the sets of names that are one file
// (same machine, device and inode, as catalogued: hard links, or one file
// reached through a symlinked directory): places with the same Link are one
// copy. It is 0 for a place that no other place is.
type Location struct {
	Machine     string `json:"machine"`
	Path        string `json:"path"`
	ArchivePath string `json:"archive_path,omitempty"`
	Check       string `json:"check,omitempty"`
	Link        int    `json:"link,omitempty"`
}

// What a lookup found at a catalogued location.
const (
	// CheckVerified: on this machine, the file (for an archive entry, its
	// archive) is there with the catalogued size and modification time.
	CheckVerified = "verified"
	// CheckOtherMachine: on another machine, so it could not be checked.
	CheckOtherMachine = "other machine"
	// CheckSkipped: on this machine, not checked (--no-check).
	CheckSkipped = "not checked"
	// CheckGone: on this machine, nothing is there any more.
	CheckGone = "gone"
	// CheckChanged: on this machine, something is there, but not with the
	// catalogued size and modification time (or it is not a regular file).
	CheckChanged = "changed"
	// CheckFailed: on this machine, it could not be examined (permission
	// denied, an I/O error).
	CheckFailed = "cannot be checked"
)

// StoredLocation is a Location with what the catalog recorded of the file
// there: for an archive entry, of its archive. Size is -1 when unknown.
type StoredLocation struct {
	Location
	Size    int64
	MtimeNS int64
	Device  uint64
	Inode   uint64
}

// LookupResult says whether the content of one local file is in the catalog,
// and where. Locations are the places that count: verified on disk, or not
// checkable (another machine) or not checked. Self are the catalogued names
// of the looked-up file itself (same machine and absolute path, or same
// device and inode), which are not copies. Stale are places on this machine
// that are no longer as catalogued (Check says how). Found is true when
// Locations is not empty. Copies counts the Locations that are distinct
// files: names of one file (the same Link) count once, as dupes counts them.
// Error is set, and the rest empty, when the file could not be read.
type LookupResult struct {
	File      string     `json:"file"`
	SHA256    string     `json:"sha256,omitempty"`
	Size      int64      `json:"size"`
	Found     bool       `json:"found"`
	Copies    int        `json:"copies"`
	Locations []Location `json:"locations"`
	Self      []Location `json:"self"`
	Stale     []Location `json:"stale"`
	Error     string     `json:"error,omitempty"`
}

// MarshalJSON adds "file_b64" when File is not valid UTF-8 (see PathB64).
func (r LookupResult) MarshalJSON() ([]byte, error) {
	type plain LookupResult
	for _, l := range []*[]Location{&r.Locations, &r.Self, &r.Stale} {
		if *l == nil {
			*l = []Location{}
		}
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
	DurationMS int64      `json:"duration_ms"`
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
