package db

import (
	"errors"
	"io/fs"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/indexer/indexer/migrations"
)

// Dialect holds what differs between the catalog's two engines, SQLite (a
// file, the default) and PostgreSQL (a shared server). The repositories
// write one set of SQL with ? placeholders, passed through sqlx's Rebind,
// which follows Driver; they ask the dialect only where SQL cannot be the
// same.
type Dialect struct {
	// Name is "sqlite" or "postgres".
	Name string
	// Driver is the database/sql driver name.
	Driver string
	// Shared says the catalog lives on a server that many machines write
	// at once: there is no catalog file and no file lock, a restore does not
	// swap a file, and indexes are never set aside, which would slow every
	// other writer for the benefit of one.
	Shared bool
	// migrations holds the engine's NNNN_name.sql files.
	migrations fs.FS
	// versionTable creates the table of applied migrations.
	versionTable string
	// tables lists the tables of the database, system tables left out.
	tables string
	// retryable reports whether err ended a transaction that may succeed
	// when run again from its start.
	retryable func(error) bool
}

// SQLite is the dialect of a catalog file.
var SQLite = Dialect{
	Name: "sqlite", Driver: DriverName, migrations: migrations.SQLite,
	versionTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL)`,
	tables:    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
	retryable: isSQLiteBusy,
}

// Postgres is the dialect of a catalog on a PostgreSQL server.
var Postgres = Dialect{
	Name: "postgres", Driver: PostgresDriverName, Shared: true, migrations: migrations.Postgres,
	versionTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    BIGINT PRIMARY KEY,
		name       TEXT   NOT NULL,
		applied_at BIGINT NOT NULL)`,
	tables:    "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
	retryable: isPGRetryable,
}

// Retryable reports whether err ended a transaction that may succeed when
// run again from its start: SQLITE_BUSY or SQLITE_LOCKED on SQLite (another
// connection held the file past the busy timeout); a serialization failure
// (40001) or a deadlock (40P01) on PostgreSQL.
func (dl Dialect) Retryable(err error) bool { return dl.retryable(err) }

// MayDeferIndexes reports whether a scan may set indexes aside (see
// DeferIndexes).
func (dl Dialect) MayDeferIndexes() bool { return !dl.Shared }

// DialectOf returns the dialect of the pool or transaction x, by its driver.
func DialectOf(x interface{ DriverName() string }) Dialect {
	if x.DriverName() == PostgresDriverName {
		return Postgres
	}
	return SQLite
}

// pgCode returns the SQLSTATE carried by err, or "".
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func isPGRetryable(err error) bool {
	switch pgCode(err) {
	case "40001", "40P01": // serialization_failure, deadlock_detected
		return true
	}
	return false
}
