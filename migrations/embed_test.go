package migrations_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/indexer/indexer/migrations"
)

// TestMigrationsPaired checks that the two engines' folders hold the same
// migration names, and that no migration was left at the top level, where
// it would be embedded in neither.
func TestMigrationsPaired(t *testing.T) {
	lite, err := fs.Glob(migrations.SQLite, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	pg, err := fs.Glob(migrations.Postgres, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if len(lite) == 0 || !slices.Equal(lite, pg) {
		t.Errorf("sqlite/ holds %v, postgres/ holds %v; want the same names in both", lite, pg)
	}
	stray, _ := filepath.Glob("*.sql")
	if len(stray) > 0 {
		t.Errorf("%v lie at the top of migrations/: move each to sqlite/ and write its twin in postgres/", stray)
	}
	if _, err := os.Stat("sqlite"); err != nil {
		t.Fatal(err)
	}
}
