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
	// no rows and nothing was worth saving, or when there was no catalog.
	SafetyBackup string `json:"safety_backup"`
	// SafetyLogs are the raw copies of the -wal or -journal that lay beside a
	// damaged catalog, named SafetyBackup plus the same suffix.
	SafetyLogs []string `json:"safety_logs,omitempty"`
	// Damaged is true when the replaced file could not be used as a catalog:
	// damaged, truncated, not an SQLite database, of a newer schema, or another
	// program's database (replaced only with --force). SafetyBackup is then a
	// raw byte copy of it, not a verified backup.
	Damaged bool `json:"damaged"`
	// Problem says why, as in "it is truncated: …"; empty unless Damaged.
	Problem string `json:"problem,omitempty"`
	// Created is true when there was no catalog file and restore created it.
	Created bool `json:"created"`
}
