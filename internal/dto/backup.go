package dto

import "time"

// Backup describes one backup file of a catalog.
type Backup struct {
	Path string `json:"path"`
	// Time is when the backup was taken: from its name when indexer named it,
	// else the file's modification time.
	Time          time.Time `json:"time"`
	Bytes         int64     `json:"bytes"`
	Files         int64     `json:"files"`
	Deleted       int64     `json:"deleted"`
	Hashes        int64     `json:"hashes"`
	SchemaVersion int       `json:"schema_version"`
	// Integrity is "ok" when integrity_check passed; empty where it was not run
	// (listings).
	Integrity string `json:"integrity,omitempty"`
	// Error says why a listed file could not be read; the counts are then zero.
	Error string `json:"error,omitempty"`
}

// Restore is the outcome of a restore.
type Restore struct {
	Catalog       string `json:"catalog"`
	RestoredFrom  string `json:"restored_from"`
	Files         int64  `json:"files"`
	Deleted       int64  `json:"deleted"`
	Hashes        int64  `json:"hashes"`
	SchemaVersion int    `json:"schema_version"`
	// SafetyBackup is where the replaced catalog was saved; empty when it held
	// no rows and nothing was worth saving.
	SafetyBackup string `json:"safety_backup"`
}
