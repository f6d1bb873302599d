package db

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/dto"
	"modernc.org/sqlite"
)

var (
	// ErrCorrupt is returned by Inspect for a database file that is truncated
	// or fails SQLite's integrity check.
	ErrCorrupt = errors.New("database is damaged")
	// ErrPendingLog is returned by Inspect for a database with a non-empty
	// write-ahead log or rollback journal beside it: part of its content is not
	// in the file itself, so the file alone is not a faithful copy.
	ErrPendingLog = errors.New("database has a log beside it")
)

// backupStepPages is how many pages one backup step copies between checks of
// the context: 1024 pages of 4 KiB are a few milliseconds of work. Tests
// lower it to make a copy take many steps.
var backupStepPages int32 = 1024

// Info describes a standalone catalog file, as Inspect found it.
type Info struct {
	Path  string
	Bytes int64
	// SchemaVersion is the version recorded in schema_migrations.
	SchemaVersion int
	// Integrity is "ok" when integrity_check passed, "" when it was not run.
	Integrity string
	dto.Counts
}

// BackupTo writes a consistent snapshot of the catalog to dst, a new file or
// an empty one, through SQLite's online backup API on a read-pool connection:
// writers in this and other processes carry on meanwhile. The snapshot is the
// one of a single read transaction, and the counts returned are read in that
// same transaction. dst ends up a standalone database in rollback-journal
// (DELETE) mode, needing no -wal beside it; it is not fsynced.
//
// A shared catalog (PostgreSQL) is written to dst as a standalone SQLite
// catalog of the same schema version, its rows read in one snapshot.
func (d *DB) BackupTo(ctx context.Context, dst string) (dto.Counts, error) {
	if d.dialect.Shared {
		counts, err := d.backupServer(ctx, dst)
		if err != nil {
			return dto.Counts{}, fmt.Errorf("back up %s to %s: %w", d.path, dst, err)
		}
		return counts, nil
	}
	var counts dto.Counts
	err := d.WithRead(func(r *sqlx.DB) error {
		var err error
		counts, err = backupConn(ctx, r, dst)
		return err
	})
	if err != nil {
		return dto.Counts{}, fmt.Errorf("back up %s to %s: %w", d.path, dst, err)
	}
	if err := toRollbackJournal(ctx, dst); err != nil {
		return dto.Counts{}, fmt.Errorf("back up %s to %s: %w", d.path, dst, err)
	}
	return counts, nil
}

// CopyFile copies the standalone database src to dst (a new or empty file)
// through the backup API, reading src as an immutable file: nothing is written
// beside it. src must be a file no process writes to, such as a backup, or a
// catalog whose connections are all closed (inside Replace's swap). Callers
// check src with Inspect first. dst ends up in DELETE mode; it is not fsynced.
func CopyFile(ctx context.Context, src, dst string) (dto.Counts, error) {
	x, err := openImmutable(src)
	if err != nil {
		return dto.Counts{}, err
	}
	defer x.Close()
	counts, err := backupConn(ctx, x, dst)
	if err != nil {
		return dto.Counts{}, fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	if err := toRollbackJournal(ctx, dst); err != nil {
		return dto.Counts{}, fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return counts, nil
}

// backupConn copies the database behind one connection of x into dst. A read
// transaction is held on the source across all steps, so every page comes from
// one snapshot and concurrent commits neither show up half nor restart the copy.
func backupConn(ctx context.Context, x *sqlx.DB, dst string) (dto.Counts, error) {
	conn, err := x.Connx(ctx)
	if err != nil {
		return dto.Counts{}, err
	}
	defer conn.Close()
	tx, err := conn.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return dto.Counts{}, fmt.Errorf("begin snapshot: %w", err)
	}
	defer tx.Rollback()
	// The first read fixes the snapshot the backup steps below will copy. The
	// schema version is read in it too: CopyFile's source may be a backup of
	// an older schema, whose rows are counted the way that schema holds them.
	version, err := catalogVersion(ctx, tx)
	if err != nil {
		return dto.Counts{}, err
	}
	counts, err := countRows(ctx, tx, version)
	if err != nil {
		return dto.Counts{}, err
	}
	err = conn.Raw(func(dc any) error {
		bc, ok := dc.(interface {
			NewBackup(string) (*sqlite.Backup, error)
		})
		if !ok {
			return fmt.Errorf("driver connection %T has no backup API", dc)
		}
		b, err := bc.NewBackup(fileURI(dst, nil))
		if err != nil {
			return fmt.Errorf("start backup: %w", err)
		}
		for {
			if err := ctx.Err(); err != nil {
				return errors.Join(err, b.Finish())
			}
			more, err := b.Step(backupStepPages)
			if err != nil {
				return errors.Join(fmt.Errorf("backup step: %w", err), b.Finish())
			}
			if !more {
				break
			}
		}
		if err := b.Finish(); err != nil {
			return fmt.Errorf("finish backup: %w", err)
		}
		return nil
	})
	if err != nil {
		return dto.Counts{}, err
	}
	return counts, nil
}

// toRollbackJournal switches the database at path out of WAL mode. The backup
// API copies page 1 verbatim, so a copy of a WAL catalog says "WAL" in its
// header and would want a -wal beside it wherever it is opened.
func toRollbackJournal(ctx context.Context, path string) error {
	x, err := sqlx.Open(DriverName, fileURI(path, nil))
	if err != nil {
		return err
	}
	defer x.Close()
	x.SetMaxOpenConns(1)
	var mode string
	if err := x.GetContext(ctx, &mode, "PRAGMA journal_mode=DELETE"); err != nil {
		return fmt.Errorf("set journal mode: %w", err)
	}
	if mode != "delete" {
		return fmt.Errorf("set journal mode: SQLite kept %q", mode)
	}
	return nil
}

// Migrate applies pending migrations to the standalone database at path, which
// no other connection may have open, and returns its schema version. Restore
// uses it on a staged copy of an older backup.
func Migrate(ctx context.Context, path string) (int, error) {
	x, err := sqlx.Open(DriverName, fileURI(path, url.Values{"_pragma": {"foreign_keys(1)"}}))
	if err != nil {
		return 0, err
	}
	defer x.Close()
	x.SetMaxOpenConns(1)
	if err := migrate(ctx, x, SQLite, true); err != nil {
		return 0, fmt.Errorf("migrate %s: %w", path, err)
	}
	v, err := SchemaVersion(ctx, x)
	if err != nil {
		return 0, fmt.Errorf("migrate %s: %w", path, err)
	}
	return v, nil
}

// Inspect examines the standalone catalog file at path without changing it or
// creating anything beside it. With verify it runs PRAGMA integrity_check too.
// It returns an error whose text completes "cannot use FILE: ..." and which
// matches, with errors.Is, fs.ErrNotExist, ErrNotDatabase (not SQLite, or
// empty), ErrCorrupt (truncated or damaged), ErrPendingLog (a -wal or -journal
// with content beside it), ErrNotCatalog (another program's database) or
// ErrSchemaTooNew.
func Inspect(ctx context.Context, path string, verify bool) (Info, error) {
	info := Info{Path: path}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return info, &causeError{"it does not exist", err}
	case err != nil:
		return info, &causeError{"it cannot be read: " + err.Error(), err}
	case !fi.Mode().IsRegular():
		return info, &causeError{"it is " + FileKind(fi.Mode()) + ", not a regular file", errors.Join(ErrNotDatabase, ErrNotRegular)}
	}
	info.Bytes = fi.Size()
	if err := checkHeader(path, fi.Size()); err != nil {
		return info, err
	}
	x, err := openImmutable(path)
	if err != nil {
		return info, err
	}
	defer x.Close()

	if verify {
		var problems []string
		if err := x.SelectContext(ctx, &problems, "PRAGMA integrity_check"); err != nil {
			return info, classify(err, "integrity check")
		}
		if len(problems) != 1 || problems[0] != "ok" {
			return info, &causeError{fmt.Sprintf("it is damaged: integrity_check reports %d problems, the first %q", len(problems), first(problems)), ErrCorrupt}
		}
		info.Integrity = "ok"
	}

	info.SchemaVersion, err = catalogVersion(ctx, x)
	if err != nil {
		return info, err
	}
	if info.Counts, err = countRows(ctx, x, info.SchemaVersion); err != nil {
		return info, classify(err, "count rows")
	}
	return info, nil
}

// sqliteMagic opens every SQLite 3 database file.
var sqliteMagic = []byte("SQLite format 3\x00")

// checkHeader reads the 100-byte file header: it must be SQLite's, the file
// must be as long as the header says, and a WAL-mode file must not have a log
// with content beside it (an immutable read would silently miss that content).
func checkHeader(path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return &causeError{"it cannot be read: " + err.Error(), err}
	}
	defer f.Close()
	h := make([]byte, 100)
	if _, err := io.ReadFull(f, h); err != nil || !bytes.Equal(h[:16], sqliteMagic) {
		return &causeError{"it is not an SQLite database", ErrNotDatabase}
	}
	pageSize := int64(binary.BigEndian.Uint16(h[16:18]))
	if pageSize == 1 {
		pageSize = 65536
	}
	// The in-header page count is valid when the change counter matches the
	// version-valid-for number, as it does for every file SQLite ≥ 3.7.0 wrote.
	pages := int64(binary.BigEndian.Uint32(h[28:32]))
	if pages > 0 && bytes.Equal(h[24:28], h[92:96]) && size < pages*pageSize {
		return &causeError{fmt.Sprintf("it is truncated: its header promises %d pages of %d bytes, but the file holds %d bytes", pages, pageSize, size), ErrCorrupt}
	}
	for _, side := range []string{"-wal", "-journal"} {
		if fi, err := os.Stat(path + side); err == nil && fi.Size() > 0 {
			return &causeError{fmt.Sprintf("it has a non-empty %s beside it holding changes that are not in the file itself; open it once with indexer (indexer health --db %s) to fold them in", path+side, path), ErrPendingLog}
		}
	}
	return nil
}

// catalogVersion checks that x holds this project's schema and returns its
// version: schema_migrations must name the same migrations this binary has,
// and the catalog's tables must exist. x may be a transaction, so that the
// version is the one of the snapshot it reads.
func catalogVersion(ctx context.Context, x sqlx.QueryerContext) (int, error) {
	notCatalog := &causeError{"it is an SQLite database of another program, not an indexer catalog", ErrNotCatalog}
	var history []struct {
		Version int    `db:"version"`
		Name    string `db:"name"`
	}
	if err := sqlx.SelectContext(ctx, x, &history, "SELECT version, name FROM schema_migrations ORDER BY version"); err != nil {
		if IsCorrupt(err) {
			return 0, classify(err, "read schema version")
		}
		if cerr := ctx.Err(); cerr != nil {
			return 0, fmt.Errorf("read schema version: %w", cerr) // interrupted, not foreign
		}
		return 0, notCatalog // no such table, or not ours: it lacks a name column
	}
	ms, err := loadMigrations(SQLite)
	if err != nil {
		return 0, err
	}
	if len(history) == 0 {
		return 0, notCatalog
	}
	for i, h := range history {
		if h.Version != i+1 || (i < len(ms) && h.Name != ms[i].name) {
			return 0, notCatalog
		}
	}
	v := len(history)
	if v > len(ms) {
		return v, &causeError{fmt.Sprintf("its schema version %d is newer than this indexer's (%d); upgrade indexer", v, len(ms)), ErrSchemaTooNew}
	}
	want := []any{"files", "scans"}
	if v < inlineDigests {
		want = append(want, "hashes")
	}
	var tables int
	q, args, err := sqlx.In(`SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN (?)`, want)
	if err != nil {
		return 0, err
	}
	if err := sqlx.GetContext(ctx, x, &tables, q, args...); err != nil {
		return 0, classify(err, "read schema")
	}
	if tables != len(want) {
		return 0, notCatalog
	}
	return v, nil
}

// inlineDigests is the schema version that moved the digests into files
// (0004_inline_digests.sql). Older catalogs are still read, to be restored.
const inlineDigests = 4

// countRows reads Counts through q, from a catalog of the schema version
// given, in one statement so that the figures agree with each other even
// outside a transaction. Hashes counts the distinct contents the rows refer
// to, deleted ones included, as the current schema will hold them: for an
// older catalog, what 0004_inline_digests.sql will make of it, so that a
// restore of an older backup, which migrates it, finds the same figure. That
// migration keeps the digests of a content only when all three are hex of the
// right length (a row with none is hashed again by the next scan), and
// contents written in upper- and lower-case hex become one.
func countRows(ctx context.Context, q sqlx.QueryerContext, version int) (dto.Counts, error) {
	contents := "(SELECT COUNT(DISTINCT sha256) FROM files)"
	if version < inlineDigests {
		contents = `(SELECT COUNT(DISTINCT unhex(h.sha256)) FROM files f JOIN hashes h ON h.id = f.hash_id
			WHERE length(unhex(h.md5)) = 16 AND length(unhex(h.sha1)) = 20 AND length(unhex(h.sha256)) = 32)`
	}
	var c dto.Counts
	err := sqlx.GetContext(ctx, q, &c, `SELECT t.files, t.deleted, t.entries, t.machines, t.bytes,
		`+contents+` AS hashes, (SELECT COUNT(*) FROM scans) AS scans
		FROM (SELECT COALESCE(SUM(CASE WHEN operation <> 'DEL' THEN 1 ELSE 0 END), 0) AS files,
			COALESCE(SUM(CASE WHEN operation = 'DEL' THEN 1 ELSE 0 END), 0) AS deleted,
			COALESCE(SUM(CASE WHEN operation <> 'DEL' AND is_archived <> 0 THEN 1 ELSE 0 END), 0) AS entries,
			COUNT(DISTINCT machine) AS machines,
			COALESCE(SUM(CASE WHEN operation <> 'DEL' THEN size ELSE 0 END), 0) AS bytes
			FROM files) t`)
	if err != nil {
		return c, fmt.Errorf("count rows: %w", err)
	}
	return c, nil
}

// CountRows returns the row counts of the catalog q reads, of this
// binary's schema version: the one place they are counted.
func CountRows(ctx context.Context, q sqlx.QueryerContext) (dto.Counts, error) {
	return countRows(ctx, q, LatestVersion())
}

// openImmutable opens path read-only as an immutable file: SQLite takes no
// locks, reads no -wal and creates neither -wal nor -shm beside it.
func openImmutable(path string) (*sqlx.DB, error) {
	x, err := sqlx.Open(DriverName, fileURI(path, url.Values{"mode": {"ro"}, "immutable": {"1"}}))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	x.SetMaxOpenConns(1)
	return x, nil
}

// classify turns a driver error met while reading a file into a cause.
func classify(err error, doing string) error {
	if IsCorrupt(err) {
		return &causeError{"it is damaged: " + doing + ": " + err.Error(), errors.Join(ErrCorrupt, err)}
	}
	return fmt.Errorf("%s: %w", doing, err)
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return strings.TrimSpace(s[0])
}

// causeError is a user-facing cause ("it is truncated: ...") that still
// matches its sentinel with errors.Is.
type causeError struct {
	msg string
	err error
}

func (e *causeError) Error() string { return e.msg }
func (e *causeError) Unwrap() error { return e.err }
