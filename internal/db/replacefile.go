package db

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// recheckPath checks, holding the lock exclusively just before a swap, that
// the resolved catalog path still names a regular file or nothing: not a
// link, a device or a FIFO put there since it was resolved.
func recheckPath(path string) error {
	p, err := CatalogPath(path)
	if err != nil {
		return err
	}
	if p != path {
		return fmt.Errorf("catalog path %s has become a link to %s; nothing was replaced", path, p)
	}
	return nil
}

// ReplaceFile is Replace for a catalog file that cannot be opened: one that is
// damaged, truncated, not an SQLite database or of a newer schema, or that does
// not exist. It never opens SQLite on the file at path. The path is resolved
// by CatalogPath, which refuses anything but a regular file or nothing, and
// checked again just before swap. It takes the inter-process lock that Open
// and Replace take, shared on the catalog's lock file and then exclusive, so that no indexer process has the catalog open while swap
// runs; swap may read, copy, replace or create the file. Then, still holding
// the lock exclusively, it opens the catalog that swap left in place, as Open
// does (migrations included), downgrades the lock to shared and returns the
// open catalog; the caller closes it.
//
// The catalog's directory is created if missing. When wait is false and
// another indexer process has the catalog open, ReplaceFile returns an error
// matching ErrInUse at once, without running swap; otherwise it waits until ctx
// is done. An error from swap is returned as it is, and nothing is opened.
func ReplaceFile(ctx context.Context, path string, opts Options, wait bool, swap func(path string) error) (*DB, error) {
	abs, err := CatalogPath(path)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(abs), DirMode); err != nil {
		return nil, fmt.Errorf("create catalog directory: %w", err)
	}
	opts = opts.withDefaults()
	lk, err := acquireShared(ctx, lockPath(abs), opts.BusyTimeout)
	if err != nil {
		return nil, err
	}
	if err := lk.upgrade(ctx, wait); err != nil {
		lk.close()
		if errors.Is(err, ErrInUse) {
			return nil, fmt.Errorf("catalog %s: %w", abs, err)
		}
		return nil, err
	}
	if err := recheckPath(abs); err != nil {
		lk.close()
		return nil, err
	}
	if err := swap(abs); err != nil {
		lk.close()
		return nil, err
	}
	// Open the new file before any other process can: one waiting in Open gets
	// the shared lock only after the downgrade, and then finds a sound catalog.
	d := &DB{path: abs, opts: opts, lock: lk}
	if err := d.openPools(ctx); err != nil {
		lk.close()
		return nil, err
	}
	lk.downgrade()
	return d, nil
}
