package db_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	"github.com/indexer/indexer/internal/db"
)

// TestOpenRefusesForeignSchemaMigrations: schema_migrations is a common table
// name (golang-migrate, Rails, …). Another program's database that has one is
// still not a catalog, whatever version it records.
func TestOpenRefusesForeignSchemaMigrations(t *testing.T) {
	for name, stmts := range map[string][]string{
		"golang-migrate at version 1": {"CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, dirty INTEGER NOT NULL)", "INSERT INTO schema_migrations VALUES (1, 0)", "CREATE TABLE users (id INTEGER PRIMARY KEY)"},
		"rails":                       {"CREATE TABLE schema_migrations (version TEXT PRIMARY KEY)", "INSERT INTO schema_migrations VALUES ('20240101120000')", "CREATE TABLE users (id INTEGER PRIMARY KEY)"},
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "other.db")
			x, err := sql.Open(db.DriverName, "file:"+p)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range stmts {
				if _, err := x.Exec(s); err != nil {
					t.Fatal(err)
				}
			}
			x.Close()
			d, err := db.Open(context.Background(), p, db.DefaultOptions())
			if err == nil {
				d.Close()
			}
			if !errors.Is(err, db.ErrNotCatalog) {
				t.Fatalf("Open: %v, want db.ErrNotCatalog", err)
			}
		})
	}
}
