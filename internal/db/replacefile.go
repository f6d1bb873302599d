package db

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ReplaceFile is Replace for a catalog file that cannot be opened: one that is
// damaged, truncated, not an SQLite database or of a newer schema, or that does
// not exist. It never opens SQLite on the file at path. It takes the
// inter-process lock that Open and Replace take, shared on path+".lock" and
// then exclusive, so that no indexer process has the catalog open while swap
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
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("resolve catalog path %s: %w", path, err)
	}
	if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("catalog path %s is a directory, not a file", abs)
	}
	if err := os.MkdirAll(filepath.Dir(abs), DirMode); err != nil {
		return nil, fmt.Errorf("create catalog directory: %w", err)
	}
	def := DefaultOptions()
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = def.BusyTimeout
	}
	if opts.ReadConns <= 0 {
		opts.ReadConns = def.ReadConns
	}
	lk, err := acquireShared(ctx, abs+".lock", opts.BusyTimeout)
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
