package db

import (
	"context"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// A long-lived process (a server) must not keep `indexer restore` out for as
// long as it runs. With Options.UnlockIdle the catalog's shared lock is held
// only while some work is in flight, between Acquire and its release; while
// idle another process may replace the file. The first Acquire after that
// notices (the device and inode of the catalog or of its -shm changed) and
// reopens the pools before anything reads through them.
//
// Closing the old pools is safe even though the files under them were
// replaced: SQLite neither checkpoints into nor deletes the log of a database
// file that was moved or unlinked while open.

// fileID is the identity of a file: its device and inode. The zero value is a
// file that does not exist.
type fileID struct{ dev, ino uint64 }

func idOf(path string) fileID {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}
	}
	return fileID{dev: uint64(st.Dev), ino: st.Ino}
}

// recordIdentity notes which files the pools opened. Called with mu held
// exclusively (or before d is shared).
func (d *DB) recordIdentity() {
	d.fileID, d.shmID = idOf(d.path), idOf(d.path+"-shm")
}

// replacedUnder tells whether the catalog file, or its shared-memory index,
// is no longer the one the pools opened.
func (d *DB) replacedUnder() bool {
	return idOf(d.path) != d.fileID || idOf(d.path+"-shm") != d.shmID
}

// Acquire marks the start of work that reads or writes the catalog (a
// request, a scan) and returns the function that marks its end. With
// Options.UnlockIdle, the first Acquire of a busy period takes the shared
// lock (waiting while a restore in another process holds it, until ctx is
// done) and reopens the pools when the catalog was replaced meanwhile; the
// last release lets the lock go. Without UnlockIdle the lock is held from
// Open to Close and Acquire only counts.
//
// The error is ErrClosed, ctx's error, ErrInUse when a restore held the
// catalog past the busy timeout, or a failure to reopen the catalog.
func (d *DB) Acquire(ctx context.Context) (release func(), err error) {
	d.leaseMu.Lock()
	defer d.leaseMu.Unlock()
	if d.busy == 0 && d.opts.UnlockIdle && !d.dialect.Shared {
		if err := d.lockAndRefresh(ctx); err != nil {
			return nil, err
		}
	}
	d.busy++
	released := false
	return func() {
		d.leaseMu.Lock()
		defer d.leaseMu.Unlock()
		if released {
			return
		}
		released = true
		d.busy--
		if d.busy == 0 && d.opts.UnlockIdle && !d.dialect.Shared {
			d.mu.RLock()
			if !d.closed {
				d.lock.unlock()
			}
			d.mu.RUnlock()
		}
	}, nil
}

// lockAndRefresh takes the shared lock and reopens the pools if the file was
// replaced while it was not held.
func (d *DB) lockAndRefresh(ctx context.Context) error {
	d.mu.RLock()
	closed := d.closed
	d.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	if err := d.lock.waitShared(ctx, lockPath(d.path), d.opts.BusyTimeout); err != nil {
		return err
	}
	d.mu.RLock()
	stale := d.replacedUnder()
	d.mu.RUnlock()
	if !stale {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	if !d.replacedUnder() {
		return nil
	}
	// The old pools' files are gone from the catalog path; an error closing
	// them changes nothing for the new ones.
	_ = d.write.Close()
	_ = d.read.Close()
	d.reopens++
	if err := d.openPools(context.WithoutCancel(ctx)); err != nil {
		d.closed = true
		d.lock.close()
		return fmt.Errorf("reopen catalog %s after it was replaced: %w", d.path, err)
	}
	d.reopened()
	return nil
}

// unlock releases the lock but keeps the lock file open.
func (l *fileLock) unlock() {
	if l != nil && l.f != nil {
		_ = l.set(unix.F_UNLCK)
	}
}
