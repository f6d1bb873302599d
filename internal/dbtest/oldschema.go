package dbtest

import (
	"database/sql"
	"io/fs"
	"testing"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/migrations"
)

// WriteOldCatalog writes, at path, a catalog of the older schema version
// given, as an older indexer left it: migrations 0001 up to that version
// applied and recorded in schema_migrations, rollback journal, closed. fill
// then adds rows through exec, on the same single connection, with foreign
// keys enforced; a statement "PRAGMA foreign_keys = OFF" turns them off for
// the statements after it, as sqlite3 and other tools could have.
func WriteOldCatalog(tb testing.TB, path string, version int, fill func(exec func(query string, args ...any))) {
	tb.Helper()
	names, err := fs.Glob(migrations.FS, "*.sql") // sorted, and named NNNN_name.sql
	if err != nil {
		tb.Fatal(err)
	}
	if version < 1 || version >= len(names) {
		tb.Fatalf("WriteOldCatalog: version %d is not an older one (this binary writes %d)", version, len(names))
	}
	x, err := sql.Open(db.DriverName, "file:"+path+"?_pragma=foreign_keys(1)")
	if err != nil {
		tb.Fatal(err)
	}
	defer x.Close()
	x.SetMaxOpenConns(1) // one connection, so that a PRAGMA holds for what follows
	exec := func(q string, args ...any) {
		tb.Helper()
		if _, err := x.Exec(q, args...); err != nil {
			tb.Fatalf("%s: %v", q, err)
		}
	}
	// The history table as the migrations write it.
	exec(`CREATE TABLE schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL)`)
	for i, name := range names[:version] {
		b, err := fs.ReadFile(migrations.FS, name)
		if err != nil {
			tb.Fatal(err)
		}
		exec(string(b))
		exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", i+1, name, int64(i+1)*1e18)
	}
	if fill != nil {
		fill(exec)
	}
	if err := x.Close(); err != nil {
		tb.Fatal(err)
	}
}
