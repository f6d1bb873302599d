package db

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	sqlite3 "modernc.org/sqlite/lib"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// migrateLock is the PostgreSQL advisory lock key that migrations take: any
// number, the same in every indexer.
const migrateLock = 0x696e646578 // "index"

type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the migrations of dialect dl. File names are
// NNNN_name.sql.
func loadMigrations(dl Dialect) ([]migration, error) {
	names, err := fs.Glob(dl.migrations, "*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, n := range names {
		num, _, ok := strings.Cut(n, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration file %s is not named NNNN_name.sql", n)
		}
		b, err := fs.ReadFile(dl.migrations, n)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: n, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s is out of sequence: want version %d", m.name, i+1)
		}
	}
	return ms, nil
}

// LatestVersion returns the schema version this binary writes, the same for
// both engines (a test holds them to it).
func LatestVersion() int {
	ms, err := loadMigrations(SQLite)
	if err != nil {
		panic(err) // the embedded files are fixed at build time; tests catch this
	}
	return len(ms)
}

// probe looks at the file at path before the pools open it. Their DSN switches
// the file to WAL as the first connection opens, and that is a write: a file
// that is not a catalog, or (with MustExist) holds none yet, must be refused
// before it, and left as it was. probe's own connection sets no journal mode
// and only reads. migrate checks the same again under its lock. uri opens
// the file at path.
//
// The caller closes the connection probe returns once its pools are open:
// closing the last connection to a WAL file checkpoints it and deletes the
// -wal and -shm files, which the pools would only create again (measured: a
// third to a half of opening a small catalog).
func probe(ctx context.Context, path, uri string, mustExist bool) (*sql.DB, error) {
	x, err := sql.Open(DriverName, uri)
	if err != nil {
		return nil, fmt.Errorf("open catalog %s: %w", path, err)
	}
	if err := probeCatalog(ctx, x, path, mustExist); err != nil {
		x.Close()
		return nil, err
	}
	return x, nil
}

func probeCatalog(ctx context.Context, x *sql.DB, path string, mustExist bool) error {
	var catalog, other int
	err := x.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(name = 'schema_migrations'), 0),
		COALESCE(SUM(name <> 'schema_migrations'), 0)
		FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`).Scan(&catalog, &other)
	switch {
	case IsCorrupt(err):
		return fmt.Errorf("%s: %w", path, ErrNotDatabase)
	case err != nil:
		return fmt.Errorf("open catalog %s: %w", path, err)
	case catalog > 0:
		// schema_migrations is a common name (golang-migrate, Rails): make
		// sure the history is ours before anything writes to the file.
		ms, err := loadMigrations(SQLite)
		if err != nil {
			return err
		}
		if err := checkHistory(ctx, sqlx.NewDb(x, DriverName), ms); err != nil {
			return fmt.Errorf("catalog %s: %w", path, err)
		}
		return nil
	case other > 0:
		return fmt.Errorf("catalog %s: %w", path, ErrNotCatalog)
	case mustExist:
		return fmt.Errorf("%s: %w", path, ErrNotExist)
	}
	return nil
}

// migrate applies the pending migrations of dialect dl in one transaction,
// immediate on SQLite and under an advisory lock on PostgreSQL, so two
// processes opening a new catalog at once serialize: the second sees the
// first's work and applies nothing. Unless create is set, it refuses with
// ErrNotExist to make a catalog in a file that holds none yet (empty, or
// without tables).
func migrate(ctx context.Context, w *sqlx.DB, dl Dialect, create bool) error {
	ms, err := loadMigrations(dl)
	if err != nil {
		return err
	}
	// The common case, an up-to-date catalog, needs no write lock: opening a
	// catalog another process is scanning into should not wait for its commits.
	if v, err := SchemaVersion(ctx, w); err == nil && v == len(ms) {
		return checkHistory(ctx, w, ms)
	} else if IsCorrupt(err) {
		return ErrNotDatabase
	}
	tx, err := w.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	defer tx.Rollback()
	if dl.Shared {
		// PostgreSQL's DDL takes no lock that would keep a second process
		// from creating the same tables at the same time.
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", migrateLock); err != nil {
			return fmt.Errorf("lock for migration: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, dl.versionTable); err != nil {
		if IsCorrupt(err) {
			return ErrNotDatabase
		}
		return fmt.Errorf("create version table: %w", err)
	}
	var cur int
	if err := tx.GetContext(ctx, &cur, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if cur > 0 {
		if err := checkHistory(ctx, tx, ms); err != nil {
			return err
		}
	}
	if cur > len(ms) {
		return fmt.Errorf("%w: it has version %d, this binary knows up to %d; upgrade indexer", ErrSchemaTooNew, cur, len(ms))
	}
	if cur == 0 {
		// A database with tables of its own but no history is another program's.
		var tables []string
		if err := tx.SelectContext(ctx, &tables, dl.tables); err != nil {
			return fmt.Errorf("inspect schema: %w", err)
		}
		if len(tables) > 1 { // schema_migrations, made above, and others
			return ErrNotCatalog
		}
		if !create {
			return ErrNotExist
		}
	}
	// Indexes a scan set aside are built first: a migration may alter or
	// drop one, and would not find it.
	if !dl.Shared && cur >= inlineDigests && cur < len(ms) {
		if err := buildAllDeferred(ctx, tx); err != nil {
			return err
		}
	}
	for _, m := range ms[cur:] {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			// A constraint or SQL error is the data's; read-only, busy, full
			// and I/O errors are the file's or the machine's.
			if c := Code(err); c == sqlite3.SQLITE_CONSTRAINT || c == sqlite3.SQLITE_ERROR || Kind(err) == "constraint" {
				return fmt.Errorf("%w: apply migration %s: %w", ErrUpgrade, m.name, err)
			}
			return fmt.Errorf("apply migration %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"),
			m.version, m.name, time.Now().UnixNano()); err != nil {
			return fmt.Errorf("record migration %s: %w", m.name, err)
		}
	}
	// Every answer a server cached from the old schema is suspect: tell
	// them all (a new catalog has no server yet, but a row costs nothing).
	if _, err := RecordEvent(ctx, tx, []string{EpochTag}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit migration: %w", err)
	}
	return nil
}

// checkHistory makes sure a non-empty schema_migrations is this project's:
// its first migration carries the name this binary gives it. The table name is
// common (golang-migrate, Rails), and another program's must be neither taken
// for an up-to-date catalog nor reported as a newer one.
func checkHistory(ctx context.Context, q sqlx.QueryerContext, ms []migration) error {
	var name string
	err := sqlx.GetContext(ctx, q, &name, "SELECT name FROM schema_migrations WHERE version = 1")
	switch {
	case IsCorrupt(err):
		return ErrNotDatabase
	case err != nil || name != ms[0].name:
		return ErrNotCatalog
	}
	return nil
}

// SchemaVersion returns the catalog's schema version through x.
func SchemaVersion(ctx context.Context, x sqlx.QueryerContext) (int, error) {
	var v int
	err := sqlx.GetContext(ctx, x, &v, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
	return v, err
}
