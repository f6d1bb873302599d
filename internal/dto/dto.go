package dto

import "time"

// Operation is the last change recorded for a file.
type Operation string

// The operations a file row can carry.
const (
	OpAdd Operation = "ADD"
	OpMod Operation = "MOD"
	OpDel Operation = "DEL"
)

// Validators are the stat fields an incremental rescan compares to decide that
// a file is unchanged without reading it. MtimeNS and CtimeNS are Unix
// nanoseconds, wrapping modulo 2^64 outside 1677-2262: fingerprints compared
// for equality, not times to print (FileMeta.Modified is the exact time).
type Validators struct {
	Size    int64
	MtimeNS int64
	CtimeNS int64
	Inode   uint64
	Device  uint64
	Nlink   uint64
}

// Same reports whether v and o describe the same, unchanged file.
func (v Validators) Same(o Validators) bool {
	return v.Size == o.Size && v.MtimeNS == o.MtimeNS && v.CtimeNS == o.CtimeNS &&
		v.Inode == o.Inode && v.Device == o.Device
}

// FileHash is one content. Digests are lower-case hex; all empty for a
// file that was never hashed.
type FileHash struct {
	Size   int64
	MD5    string
	SHA1   string
	SHA256 string
}

// FileMeta is one catalogued file. For an entry inside an archive, Path is the
// archive's path and ArchivePath the entry's inner path; for a plain file
// ArchivePath is empty.
type FileMeta struct {
	ID          int64
	Machine     string
	Path        string
	ArchivePath string
	Name        string
	Size        int64
	Created     time.Time // zero where the file system records no birth time
	Modified    time.Time
	Scanned     time.Time
	Operation   Operation
	IsArchived  bool
	ScanID      int64
	Exec        bool // a plain file's owner may execute it
	Validators
}

// FileWithHash is a file with its content digests.
type FileWithHash struct {
	FileMeta
	Hash FileHash
}

// ScanStatus is the outcome of a scan run.
type ScanStatus string

// The statuses a scan can end with.
const (
	ScanRunning     ScanStatus = "running"
	ScanComplete    ScanStatus = "complete"
	ScanPartial     ScanStatus = "partial"
	ScanInterrupted ScanStatus = "interrupted"
	ScanFailed      ScanStatus = "failed"
)

// ScanCounts are the tallies of one scan.
type ScanCounts struct {
	FilesSeen   int64 `json:"files_seen"`
	Added       int64 `json:"added"`
	Modified    int64 `json:"modified"`
	Deleted     int64 `json:"deleted"`
	Unchanged   int64 `json:"unchanged"`
	Skipped     int64 `json:"skipped"`
	Failed      int64 `json:"failed"`
	BytesHashed int64 `json:"bytes_hashed"`
}

// Scan is one scan run.
type Scan struct {
	ID       int64      `json:"id"`
	Machine  string     `json:"machine"`
	Roots    []string   `json:"roots"`
	Started  time.Time  `json:"started"`
	Finished time.Time  `json:"finished"` // zero while running
	Status   ScanStatus `json:"status"`
	ScanCounts
	TxMetrics *TxMetrics `json:"tx_metrics,omitempty"`
	// Host and PID name the process that ran the scan.
	Host string `json:"host,omitempty"`
	PID  int    `json:"pid,omitempty"`
}

// OpMetrics are the transaction figures of one kind of operation.
type OpMetrics struct {
	Count       int64            `json:"count"`
	Failures    map[string]int64 `json:"failures,omitempty"` // by error kind
	BusyRetries int64            `json:"busy_retries"`
	TotalMS     float64          `json:"total_ms"`
	SlowestMS   float64          `json:"slowest_ms"`
}

// TxMetrics are a unit of work's figures, by operation name.
type TxMetrics struct {
	Ops map[string]OpMetrics `json:"ops"`
}

// DupeFile is one place a duplicated content lives. Linked is set when another
// file of the group is the same inode on the same machine (a hard link, or
// the same file reached by another path: a symlinked directory, a bind
// mount): the two are one copy on disk. Device and Inode are set for plain
// files, 0 for archive entries.
type DupeFile struct {
	Machine     string `json:"machine"`
	Path        string `json:"path"`
	ArchivePath string `json:"archive_path,omitempty"`
	Linked      bool   `json:"linked,omitempty"`
	Device      uint64 `json:"-"`
	Inode       uint64 `json:"-"`
}

// DupeGroup is a set of files with identical content. Copies counts distinct
// copies on disk, at least two: names of one inode on one machine count
// once. Reclaimable is (Copies-1) * Size, the bytes freed by keeping one copy.
type DupeGroup struct {
	SHA256      string     `json:"sha256"`
	Size        int64      `json:"size"`
	Count       int        `json:"count"`
	Copies      int        `json:"copies"`
	Reclaimable int64      `json:"reclaimable"`
	Files       []DupeFile `json:"files"`
}

// CheckStatus grades one health check.
type CheckStatus string

// The grades of a health check, worst last.
const (
	StatusOK       CheckStatus = "ok"
	StatusDegraded CheckStatus = "degraded"
	StatusFail     CheckStatus = "fail"
)

// Check is one line of a health report.
type Check struct {
	Name   string      `json:"name"`
	Status CheckStatus `json:"status"`
	Detail string      `json:"detail"`
}

// Health is the report of `indexer health`.
type Health struct {
	Status CheckStatus    `json:"status"`
	Path   string         `json:"path"`
	Checks []Check        `json:"checks"`
	Facts  map[string]any `json:"facts,omitempty"`
}

// Add appends a check and folds its status into the overall one.
func (h *Health) Add(name string, st CheckStatus, detail string) {
	h.Checks = append(h.Checks, Check{Name: name, Status: st, Detail: detail})
	if rank(st) > rank(h.Status) {
		h.Status = st
	}
}

func rank(s CheckStatus) int {
	switch s {
	case StatusFail:
		return 2
	case StatusDegraded:
		return 1
	}
	return 0
}
