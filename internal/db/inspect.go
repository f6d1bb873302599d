package db

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// Check runs PRAGMA quick_check, or integrity_check when full, and returns the
// problems found, one message each; none means the file is sound. Damage that
// stops the check itself is returned as an error (IsCorrupt is true for it).
func (d *DB) Check(ctx context.Context, full bool) ([]string, error) {
	pragma := "PRAGMA quick_check"
	if full {
		pragma = "PRAGMA integrity_check"
	}
	var out []string
	err := d.WithRead(func(r *sqlx.DB) error { return r.SelectContext(ctx, &out, pragma) })
	if err != nil {
		return nil, fmt.Errorf("integrity check: %w", err)
	}
	if len(out) == 1 && out[0] == "ok" {
		return nil, nil
	}
	// SQLite may put several problems in one row, under a heading naming the
	// schema ("*** in database main ***"); hand out one problem per element.
	var problems []string
	for _, row := range out {
		for _, line := range strings.Split(row, "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "*** in database ") {
				problems = append(problems, line)
			}
		}
	}
	if len(problems) == 0 {
		return out, nil // not "ok", whatever it says
	}
	return problems, nil
}

// ForeignKeyViolations returns the number of rows that break a foreign key.
func (d *DB) ForeignKeyViolations(ctx context.Context) (int, error) {
	var n int
	err := d.WithRead(func(r *sqlx.DB) error {
		rows, err := r.QueryContext(ctx, "PRAGMA foreign_key_check")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			n++
		}
		return rows.Err()
	})
	if err != nil {
		return 0, fmt.Errorf("foreign key check: %w", err)
	}
	return n, nil
}

// JournalMode returns the journal mode the write pool reports. A catalog
// opened read-only has no write pool, and its read pool may read the file as
// immutable, which SQLite reports as "delete" whatever the file says: its
// mode is read from the file header instead (bytes 18 and 19 are 2 in WAL).
func (d *DB) JournalMode(ctx context.Context) (string, error) {
	var mode string
	if d.ReadOnly() {
		f, err := os.Open(d.path)
		if err != nil {
			return "", fmt.Errorf("read journal mode: %w", err)
		}
		defer f.Close()
		h := make([]byte, 20)
		if _, err := io.ReadFull(f, h); err != nil {
			return "", fmt.Errorf("read journal mode: %w", err)
		}
		if h[18] == 2 && h[19] == 2 {
			return "wal", nil
		}
		return mode, d.WithRead(func(r *sqlx.DB) error { return r.GetContext(ctx, &mode, "PRAGMA journal_mode") })
	}
	err := d.WithWrite(func(w *sqlx.DB) error { return w.GetContext(ctx, &mode, "PRAGMA journal_mode") })
	return mode, err
}

// Ping times a SELECT 1 on the read pool.
func (d *DB) Ping(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	var one int
	err := d.WithRead(func(r *sqlx.DB) error { return r.GetContext(ctx, &one, "SELECT 1") })
	return time.Since(start), err
}

// Version returns the catalog's schema version.
func (d *DB) Version(ctx context.Context) (int, error) {
	var v int
	err := d.WithRead(func(r *sqlx.DB) error {
		var err error
		v, err = SchemaVersion(ctx, r)
		return err
	})
	return v, err
}

// FileSizes returns the sizes of the catalog file and its WAL (0 when absent).
func (d *DB) FileSizes() (db, wal int64) {
	if fi, err := os.Stat(d.path); err == nil {
		db = fi.Size()
	}
	if fi, err := os.Stat(d.path + "-wal"); err == nil {
		wal = fi.Size()
	}
	return db, wal
}
