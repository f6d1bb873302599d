package dto

import "encoding/json"

// DedupePlanVersion is the version of the plan format this build writes and
// reads.
const DedupePlanVersion = 1

// DedupePlan is what `indexer dedupe plan` writes and `dedupe apply` acts on:
// for each group of identical files of one machine, the copy kept and the
// copies acted on, each with the fingerprint the catalog holds for it.
type DedupePlan struct {
	Version   int           `json:"version"`
	Machine   string        `json:"machine"`
	Action    string        `json:"action"` // hardlink, reflink, trash or delete
	Keep      []string      `json:"keep"`   // the keep rules, in order
	Reference []string      `json:"reference,omitempty"`
	Groups    []DedupeGroup `json:"groups"`
}

// DedupeGroup is one content: Keep is kept, Act acted on, Reference (copies
// below a --reference path other than Keep) left alone.
type DedupeGroup struct {
	SHA256    string       `json:"sha256"`
	Size      int64        `json:"size"`
	Keep      DedupeCopy   `json:"keep"`
	Reference []DedupeCopy `json:"reference,omitempty"`
	Act       []DedupeCopy `json:"act"`
}

// DedupeCopy is one copy on disk: one inode and all its catalogued names.
// Rule names the keep rule that decided its fate ("path order" for the
// tie-break, "reference" for a copy below a --reference path).
type DedupeCopy struct {
	Rule   string       `json:"rule"`
	Device uint64       `json:"device"`
	Inode  uint64       `json:"inode"`
	Names  []DedupeName `json:"names"`
}

// DedupeName is one catalogued name of a copy with the fingerprint recorded
// for it by its last scan.
type DedupeName struct {
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	MtimeNS int64  `json:"mtime_ns"`
	CtimeNS int64  `json:"ctime_ns"`
}

// MarshalJSON adds "path_b64" where the path is not valid UTF-8 (see PathB64).
func (n DedupeName) MarshalJSON() ([]byte, error) {
	type plain DedupeName
	return json.Marshal(struct {
		plain
		PathB64 string `json:"path_b64,omitempty"`
	}{plain(n), PathB64(n.Path)})
}

// UnmarshalJSON reads "path_b64" back into Path when it is set.
func (n *DedupeName) UnmarshalJSON(b []byte) error {
	type plain DedupeName
	var v struct {
		plain
		PathB64 string `json:"path_b64"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	p, err := DecodePath(v.Path, v.PathB64)
	if err != nil {
		return err
	}
	*n = DedupeName(v.plain)
	n.Path = p
	return nil
}

// DedupeSkip is a file apply did not act on, and why.
type DedupeSkip struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// MarshalJSON adds "path_b64" where the path is not valid UTF-8.
func (s DedupeSkip) MarshalJSON() ([]byte, error) {
	type plain DedupeSkip
	return json.Marshal(struct {
		plain
		PathB64 string `json:"path_b64,omitempty"`
	}{plain(s), PathB64(s.Path)})
}

// DedupeReport is what apply did: the names acted on, the names skipped,
// the bytes freed (a copy's size once all its names are acted on), and the
// trash manifest, for undo.
type DedupeReport struct {
	Applied        int          `json:"applied"`
	Skipped        []DedupeSkip `json:"skipped"`
	BytesReclaimed int64        `json:"bytes_reclaimed"`
	Manifest       string       `json:"manifest,omitempty"`
}

// TrashEntry is one line of a trash manifest: a file moved from Path to
// Trash, with what it was.
type TrashEntry struct {
	Path    string `json:"path"`
	Trash   string `json:"trash"`
	Device  uint64 `json:"device"`
	Inode   uint64 `json:"inode"`
	Size    int64  `json:"size"`
	MtimeNS int64  `json:"mtime_ns"`
	SHA256  string `json:"sha256"`
	Kept    string `json:"kept"`
}

// MarshalJSON adds "path_b64", "trash_b64" and "kept_b64" where a path is
// not valid UTF-8.
func (e TrashEntry) MarshalJSON() ([]byte, error) {
	type plain TrashEntry
	return json.Marshal(struct {
		plain
		PathB64  string `json:"path_b64,omitempty"`
		TrashB64 string `json:"trash_b64,omitempty"`
		KeptB64  string `json:"kept_b64,omitempty"`
	}{plain(e), PathB64(e.Path), PathB64(e.Trash), PathB64(e.Kept)})
}

// UnmarshalJSON reads the "_b64" forms back where they are set.
func (e *TrashEntry) UnmarshalJSON(b []byte) error {
	type plain TrashEntry
	var v struct {
		plain
		PathB64  string `json:"path_b64"`
		TrashB64 string `json:"trash_b64"`
		KeptB64  string `json:"kept_b64"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*e = TrashEntry(v.plain)
	var err error
	if e.Path, err = DecodePath(v.Path, v.PathB64); err != nil {
		return err
	}
	if e.Trash, err = DecodePath(v.Trash, v.TrashB64); err != nil {
		return err
	}
	e.Kept, err = DecodePath(v.Kept, v.KeptB64)
	return err
}

// UndoReport is what undo did.
type UndoReport struct {
	Restored int          `json:"restored"`
	Skipped  []DedupeSkip `json:"skipped"`
}
