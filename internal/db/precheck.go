package db

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"

	"github.com/jmoiron/sqlx"
)

// precheck looks at an existing, non-empty file before the pools open it:
// setting journal_mode=WAL rewrites the header of a database in rollback mode,
// so another program's database must be refused before that, not after.
// Files already in WAL mode are left to migrate's checks.
func precheck(ctx context.Context, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open catalog: %w", err)
	}
	var hdr [100]byte
	n, err := io.ReadFull(f, hdr[:])
	f.Close()
	switch {
	case n == 0:
		return nil // an empty file is a new catalog
	case err != nil && !errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("read catalog header: %w", err)
	case n < len(hdr) || !bytes.Equal(hdr[:16], sqliteMagic):
		return ErrNotDatabase
	case hdr[18] == 2 && hdr[19] == 2:
		return nil // WAL mode already: nothing to convert
	}
	// A rollback-mode database: a backup being restored, or someone else's.
	u := url.URL{Scheme: "file", Opaque: (&url.URL{Path: path}).EscapedPath(), RawQuery: "mode=ro"}
	conn, err := sqlx.Open(DriverName, u.String())
	if err != nil {
		return fmt.Errorf("open catalog: %w", err)
	}
	defer conn.Close()
	var tables int
	err = conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`).Scan(&tables)
	switch {
	case IsCorrupt(err):
		return ErrNotDatabase
	case err != nil:
		return fmt.Errorf("inspect catalog: %w", err)
	case tables == 0:
		return nil
	}
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	return checkHistory(ctx, conn, ms)
}
