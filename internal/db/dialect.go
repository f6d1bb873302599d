package db

import (
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"strings"

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
// (40001), a deadlock (40P01) or a lock not had within lock_timeout (55P03)
// on PostgreSQL.
func (dl Dialect) Retryable(err error) bool { return dl.retryable(err) }

// ReadTx returns the options of a read transaction, in which every query
// sees one snapshot: SQLite's transactions always do (the driver ignores
// the flags, and the read pool's connections are query_only); PostgreSQL's
// do at REPEATABLE READ, and READ ONLY refuses writes.
func (dl Dialect) ReadTx() *sql.TxOptions {
	if dl.Shared {
		return &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}
	}
	return &sql.TxOptions{ReadOnly: true}
}

// ChunkSavepoints reports whether a scan writes each chunk inside a
// savepoint, and on failure writes the chunk's files one by one, each in a
// savepoint of its own, in the chunk's one transaction. PostgreSQL needs
// that: its first failed statement aborts the whole transaction but for a
// savepoint. On SQLite a savepoint around a 200-file chunk spills its
// sub-journal to a temporary file on every chunk (a first scan of 20,000
// files wrote 38% more bytes), while a failed chunk is rare: there the chunk's
// transaction is rolled back and its files written one by one, each in a
// transaction of its own, with the same outcome.
func (dl Dialect) ChunkSavepoints() bool { return dl.Shared }

// MayDeferIndexes reports whether a scan may set indexes aside (see
// DeferIndexes).
func (dl Dialect) MayDeferIndexes() bool { return !dl.Shared }

// FileDir is the SQL expression of a plain file's directory in files (its
// path without "/" and its name; empty for a file in "/"), spelled as the
// files_dir index spells it, so that a query on it uses the index. For a row
// whose name is no suffix of its path (never written by a scan) it is empty.
func (dl Dialect) FileDir() string {
	if dl.Shared {
		// substr refuses a negative length here; SQLite's gives ''.
		return "substr(path, 1, GREATEST(length(path) - length(name) - 1, 0))"
	}
	return "substr(path, 1, length(path) - length(name) - 1)"
}

// Instr returns the expression of the position, from 1, of the SQL string
// literal needle in the path expression hay; 0 when it is absent.
func (dl Dialect) Instr(hay, needle string) string {
	if dl.Shared {
		return "position(CAST(" + needle + " AS BYTEA) IN " + hay + ")"
	}
	return "instr(" + hay + ", " + needle + ")"
}

// Like returns the condition that the path or name expression col, lower
// cased with lower, matches a LIKE pattern given as one parameter, with \
// as its escape character, and how each literal part of the pattern must be
// written before it is escaped for LIKE.
//
// SQLite's LOWER and LIKE ignore the case of ASCII letters only. On
// PostgreSQL, where paths are bytea, col is compared as bytea's escape text,
// encode(col, 'escape'): each byte above 0x7f and NUL written as \ooo, \ as
// \\, plain ASCII as it is. That text is ASCII only, so ILIKE folds the case
// of ASCII letters only, as SQLite does; a substring of the bytes is a
// substring of it, so no match is lost (a pattern's digits may also match
// inside a \ooo: callers match exactly after); and it is the expression of
// the trigram index on names (migration 0012), which serves both LIKE and
// ILIKE. part writes the pattern's parts the same way.
func (dl Dialect) Like(col string, lower bool) (cond string, part func(string) string) {
	same := func(s string) string { return s }
	switch {
	case dl.Shared && lower:
		return "encode(" + col + `, 'escape') ILIKE ? ESCAPE '\'`, escapeText
	case dl.Shared:
		return "encode(" + col + `, 'escape') LIKE ? ESCAPE '\'`, escapeText
	case lower:
		col = "LOWER(" + col + ")"
	}
	return col + ` LIKE ? ESCAPE '\'`, same
}

// escapeText writes s as PostgreSQL's encode(bytes, 'escape') does.
func escapeText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b.WriteString(`\\`)
		case c == 0 || c > 0x7f:
			fmt.Fprintf(&b, `\%03o`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// HasGlob reports whether SQL may call GlobFunction, which only the SQLite
// driver of this process has.
func (dl Dialect) HasGlob() bool { return !dl.Shared }

// BinaryCollation returns the clause that makes a text column compare
// bytewise, as Go compares strings: " COLLATE \"C\"" on PostgreSQL, whose
// text columns otherwise follow the database's locale, and "" on SQLite,
// whose default collation is binary already.
func (dl Dialect) BinaryCollation() string {
	if dl.Name == Postgres.Name {
		return ` COLLATE "C"`
	}
	return ""
}

// HasRaw reports whether a catalog of this engine may have raw
// connections (see DB.OpenRaw): SQLite's only.
func (dl Dialect) HasRaw() bool { return dl.Name == SQLite.Name }

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
	case "55P03": // lock_not_available: lock_timeout, as SQLITE_BUSY after busy_timeout
		return true
	}
	return false
}
