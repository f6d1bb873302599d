package dto

// VolumeMachinePrefix starts the machine name under which a volume's files
// are recorded: "vol:" and its UUID, or "vol:label:" and its label when it
// has no UUID.
const VolumeMachinePrefix = "vol:"

// IsVolumeMachine reports whether machine names a volume's files.
func IsVolumeMachine(machine string) bool {
	return len(machine) > len(VolumeMachinePrefix) && machine[:len(VolumeMachinePrefix)] == VolumeMachinePrefix
}

// VolumeMachine returns the machine name of a volume's files.
func VolumeMachine(uuid, label string) string {
	if uuid != "" {
		return VolumeMachinePrefix + uuid
	}
	return VolumeMachinePrefix + "label:" + label
}

// Volume is a file system whose files are recorded relative to it. Its
// files are the rows of Machine, with paths of the file system itself.
type Volume struct {
	Machine    string
	UUID       string
	Label      string
	FSType     string
	MountPoint string // where its last scan found it
	Host       string // the computer of its last scan
	// StableInodes: its file system keeps inode numbers across mounts;
	// else its rows hold inode 0.
	StableInodes bool
	LastScan     int64 // scans.id
	// Fingerprint is its file system's type, size and top directory's
	// birth time (volume.Fingerprint): for a volume known by its label
	// alone, a scan of a drive with another one is refused. "" when
	// unknown.
	Fingerprint string
}

// ScanRoot is the file system one root of a scan lived on. Volume is the
// machine its files were recorded under when relative to it, else "".
type ScanRoot struct {
	ScanID     int64
	Root       string
	UUID       string
	Label      string
	FSType     string
	MountPoint string
	Volume     string
}

// VolumeListing is one line of `indexer volumes --json`.
type VolumeListing struct {
	Machine     string   `json:"machine"`
	Label       string   `json:"label"`
	UUID        string   `json:"uuid"`
	FSType      string   `json:"fs_type"`
	Files       int64    `json:"files"`
	Bytes       int64    `json:"bytes"`
	LastScan    int64    `json:"last_scan_id"`
	LastScanned string   `json:"last_scanned,omitempty"` // RFC 3339; empty before any scan finished
	LastHost    string   `json:"last_host"`
	LastMount   string   `json:"last_mount_point"`
	Mounted     bool     `json:"mounted"`
	MountPoints []string `json:"mount_points"`
}

// VolumeRef is the volume of a catalogued file, as find, lookup and dupes
// show it: mounted now at MountPoint (the file then at AbsPath), or offline.
type VolumeRef struct {
	UUID       string `json:"uuid"`
	Label      string `json:"label"`
	Mounted    bool   `json:"mounted"`
	MountPoint string `json:"mount_point,omitempty"`
	AbsPath    string `json:"abs_path,omitempty"`
	// AbsPathB64 holds AbsPath's bytes when they are not valid UTF-8 (see
	// PathB64).
	AbsPathB64 string `json:"abs_path_b64,omitempty"`
}
