package db

import (
	"context"
	"errors"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

var (
	// ErrNotExist is returned by Open with MustExist when the catalog file is
	// missing, or holds no catalog yet (an empty file or database).
	ErrNotExist = errors.New("catalog does not exist")
	// ErrSchemaTooNew is returned when the catalog was written by a newer indexer.
	ErrSchemaTooNew = errors.New("catalog schema is newer than this indexer")
	// ErrNotCatalog is returned for an SQLite database that is not an indexer catalog.
	ErrNotCatalog = errors.New("not an indexer catalog")
	// ErrNotDatabase is returned for a file that is not an SQLite database.
	ErrNotDatabase = errors.New("not an SQLite database")
	// ErrInUse is returned when another process holds the catalog and an
	// exclusive lock was asked for without waiting.
	ErrInUse = errors.New("catalog is in use by another indexer process")
	// ErrReadOnly is returned by WithWrite and Replace on a catalog opened
	// read-only (Options.OnlyReads on a read-only file system).
	ErrReadOnly = errors.New("catalog is open read-only")
	// ErrClosed is returned by WithRead and WithWrite after Close.
	ErrClosed = errors.New("catalog is closed")
	// ErrUpgrade is returned when a migration cannot be applied to the
	// catalog's data (a constraint or schema error, not a busy or full
	// disk): the catalog cannot be opened by this indexer as it is.
	ErrUpgrade = errors.New("catalog cannot be upgraded to this indexer's schema")
)

// Code returns the primary SQLite result code carried by err, or 0.
func Code(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() & 0xff
	}
	var re *RawError
	if errors.As(err, &re) {
		return re.code & 0xff
	}
	return 0
}

// IsBusy reports whether err is one that the catalog's engine answers when
// another connection is in the way, so that the operation may succeed if
// tried again: SQLITE_BUSY or SQLITE_LOCKED, or PostgreSQL's serialization
// failure or deadlock (see Dialect.Retryable).
func IsBusy(err error) bool { return isSQLiteBusy(err) || isPGRetryable(err) }

func isSQLiteBusy(err error) bool {
	c := Code(err)
	return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
}

// IsCorrupt reports whether err says the file is damaged or not a database.
func IsCorrupt(err error) bool {
	c := Code(err)
	return c == sqlite3.SQLITE_CORRUPT || c == sqlite3.SQLITE_NOTADB
}

// IsFull reports whether err says the catalog could not be written: the disk
// is full (SQLITE_FULL) or writing failed (SQLITE_IOERR, which is also what
// a file size limit gives).
func IsFull(err error) bool {
	c := Code(err)
	return c == sqlite3.SQLITE_FULL || c == sqlite3.SQLITE_IOERR
}

// IsNoSpace reports whether err is SQLITE_FULL: the disk is full.
func IsNoSpace(err error) bool { return Code(err) == sqlite3.SQLITE_FULL }

// IsReadOnly reports whether err says the catalog may not be written: the
// file, or the directory where its -wal and -shm files go, is read-only.
func IsReadOnly(err error) bool { return Code(err) == sqlite3.SQLITE_READONLY }

// IsCantOpen reports whether SQLite could not open the catalog or create the
// -wal and -shm files beside it.
func IsCantOpen(err error) bool { return Code(err) == sqlite3.SQLITE_CANTOPEN }

// Kind names the class of err for metrics: "busy", "corrupt", "full", "ioerr",
// "constraint", "canceled", "sqlite", "postgres" or "other".
func Kind(err error) string {
	switch c, pc := Code(err), pgCode(err); {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "canceled"
	case pc != "":
		return pgKind(pc)
	case c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED:
		return "busy"
	case c == sqlite3.SQLITE_CORRUPT || c == sqlite3.SQLITE_NOTADB:
		return "corrupt"
	case c == sqlite3.SQLITE_FULL:
		return "full"
	case c == sqlite3.SQLITE_IOERR:
		return "ioerr"
	case c == sqlite3.SQLITE_CONSTRAINT:
		return "constraint"
	case c != 0:
		return "sqlite"
	default:
		return "other"
	}
}

// pgKind classes a PostgreSQL SQLSTATE as Kind does.
func pgKind(code string) string {
	switch {
	case code == "40001", code == "40P01", code == "55P03":
		return "busy"
	case code == "57014": // query_canceled
		return "canceled"
	case code == "53100": // disk_full
		return "full"
	case code == "58030": // io_error
		return "ioerr"
	case code == "XX001", code == "XX002": // data_corrupted, index_corrupted
		return "corrupt"
	case code[:2] == "23": // integrity constraint violation
		return "constraint"
	}
	return "postgres"
}
