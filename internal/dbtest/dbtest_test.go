package dbtest_test

import (
	"errors"
	"os"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dbtest"
)

// TestMustOpenClosesAtCleanup checks that the helper hands out a usable,
// migrated catalog inside the test and closes it when the test ends.
func TestMustOpenClosesAtCleanup(t *testing.T) {
	var d *db.DB
	t.Run("inner", func(t *testing.T) {
		d = dbtest.MustOpen(t)
		if got, err := d.Version(t.Context()); err != nil || got != db.LatestVersion() {
			t.Fatalf("Version() = %d, %v; want %d, nil", got, err, db.LatestVersion())
		}
		if _, err := os.Stat(d.Path()); err != nil {
			t.Fatalf("catalog file: %v", err)
		}
	})
	err := d.WithRead(func(*sqlx.DB) error { return nil })
	if !errors.Is(err, db.ErrClosed) {
		t.Fatalf("WithRead after the test ended = %v; want ErrClosed", err)
	}
}
