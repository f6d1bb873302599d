package db

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/jmoiron/sqlx"
)

// openTemp opens a new catalog in a temporary directory, closed when t
// ends.
func openTemp(t *testing.T) *DB {
	t.Helper()
	d, err := Open(context.Background(), filepath.Join(t.TempDir(), "index.db"), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// inWriteTx runs fn in a write transaction of d, committed when fn returns
// nil and rolled back otherwise.
func inWriteTx(ctx context.Context, d *DB, fn func(tx *sqlx.Tx) error) error {
	return d.WithWrite(func(w *sqlx.DB) error {
		tx, err := w.BeginTxx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if err := fn(tx); err != nil {
			return err
		}
		return tx.Commit()
	})
}
