package db

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"
)

// TestStmtJournalSpills proves that a statement whose journal outgrows
// stmtJournalSpill, and so moves to a temporary file, still succeeds. SQLite
// writes a spilled journal in pieces of the threshold's size, and its unix
// VFS writes at most 128 KiB a call (seekAndWriteFd masks the size with
// 0x1ffff): with 4 MiB, every such statement wrote nothing and failed with
// "database or disk is full" (a DELETE of a large catalog's contents did).
func TestStmtJournalSpills(t *testing.T) {
	ctx := context.Background()
	d := openTemp(t)
	// Twice the threshold of rows, each changed by one statement: its
	// journal holds every page of them as they were.
	pad := strings.Repeat("x", 200)
	rows := 2 * stmtJournalSpill / len(pad)
	err := inWriteTx(ctx, d, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, "CREATE TABLE spill (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)"); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
			INSERT INTO spill (id, v) SELECT i, printf('%08d', i) || ? FROM n`, rows, pad)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	err = inWriteTx(ctx, d, func(tx *sqlx.Tx) error {
		// UNIQUE makes the UPDATE a statement that may fail, which needs
		// a journal to be undone alone; as a scan's chunk does, it follows
		// another statement of its transaction.
		if _, err := tx.ExecContext(ctx, "INSERT INTO spill (id, v) VALUES (0, 'first')"); err != nil {
			return err
		}
		before := deletedOpen(t)
		if _, err := tx.ExecContext(ctx, "UPDATE spill SET v = v || 'y' WHERE id > 0"); err != nil {
			return err
		}
		if after := deletedOpen(t); after <= before {
			t.Errorf("no temporary file opened (%d open, %d before): the journal did not spill, the test proves nothing", after, before)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("a statement changing %d rows (%d KiB) in a transaction: %v", rows, rows*len(pad)>>10, err)
	}
	var changed int
	if err := d.WithRead(func(r *sqlx.DB) error {
		return r.GetContext(ctx, &changed, "SELECT COUNT(*) FROM spill WHERE v LIKE '%y'")
	}); err != nil {
		t.Fatal(err)
	}
	if changed != rows {
		t.Fatalf("%d rows changed; want %d", changed, rows)
	}
}

// deletedOpen counts the files this process holds open that have no name
// any more: SQLite's temporary files.
func deletedOpen(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && strings.HasSuffix(target, " (deleted)") {
			n++
		}
	}
	return n
}
