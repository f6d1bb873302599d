package db_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/indexer/indexer/internal/db"
)

// TestOpenLeavesForeignDatabaseUntouched proves that a failed open of another
// program's rollback-mode database does not switch it to WAL: the refusal must
// come before the journal_mode pragma rewrites the header.
func TestOpenLeavesForeignDatabaseUntouched(t *testing.T) {
	for name, ddl := range map[string]string{
		"own tables":             "CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES ('keep me')",
		"golang-migrate history": "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, dirty BOOLEAN); INSERT INTO schema_migrations VALUES (1, 0)",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "other.db")
			raw, err := sql.Open(db.DriverName, path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := raw.Exec(ddl); err != nil {
				t.Fatal(err)
			}
			raw.Close()
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if before[18] != 1 || before[19] != 1 {
				t.Fatalf("fixture is not in rollback mode: header bytes %d/%d", before[18], before[19])
			}
			query := db.DefaultOptions()
			query.MustExist, query.OnlyReads = true, true
			for _, opts := range []db.Options{db.DefaultOptions(), query} {
				_, err = db.Open(context.Background(), path, opts)
				if !errors.Is(err, db.ErrNotCatalog) {
					t.Fatalf("Open(MustExist %v, OnlyReads %v): got %v, want ErrNotCatalog", opts.MustExist, opts.OnlyReads, err)
				}
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Errorf("the foreign database changed (header bytes now %d/%d)", after[18], after[19])
			}
			for _, suffix := range []string{"-wal", "-shm"} {
				if _, err := os.Stat(path + suffix); err == nil {
					t.Errorf("%s left beside the foreign database", suffix)
				}
			}
		})
	}
}
