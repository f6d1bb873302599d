package db

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// fileLock is an open file description lock (fcntl F_OFD_SETLK) on a file
// beside the catalog. Every process that opens the catalog holds it shared;
// Replace takes it exclusively, so a restore never swaps the file under a
// running scan or a query in another process.
//
// OFD locks, unlike flock(2), convert a shared lock to an exclusive one
// atomically: a conversion that fails leaves the shared lock in place, so a
// handle waiting to restore never stops holding the catalog meanwhile.
type fileLock struct {
	f *os.File
}

// errLocked is a conflicting lock held elsewhere.
func errLocked(err error) bool {
	return errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES)
}

// set takes a lock of typ (F_RDLCK or F_WRLCK) on the whole file, without
// waiting.
func (l *fileLock) set(typ int16) error {
	lk := unix.Flock_t{Type: typ, Whence: io.SeekStart}
	for {
		err := unix.FcntlFlock(l.f.Fd(), unix.F_OFD_SETLK, &lk)
		if err != unix.EINTR {
			return err
		}
	}
}

// lockPath names the lock file of the catalog at path (as CatalogPath
// returns it): every name of one catalog shares it.
func lockPath(catalog string) string { return catalog + ".lock" }

// openLockFile opens the lock file at path, creating it if it is missing. One
// that exists but may not be written (another user's catalog, a read-only
// file system) is opened for reading: a shared lock needs no more. When the
// file can be neither created nor opened, the error is why it could not be
// created (permission denied, read-only file system), not that it is missing.
func openLockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, sideFileMode(strings.TrimSuffix(path, ".lock")))
	if err == nil {
		return f, nil
	}
	if rf, rerr := os.Open(path); rerr == nil {
		return rf, nil
	}
	return nil, fmt.Errorf("create lock file: %w", err)
}

// acquireShared takes the shared lock on the lock file at path, waiting up to
// timeout while a restore holds it exclusively.
func acquireShared(ctx context.Context, path string, timeout time.Duration) (*fileLock, error) {
	f, err := openLockFile(path)
	if err != nil {
		return nil, err
	}
	l := &fileLock{f: f}
	if err := l.waitShared(ctx, path, timeout); err != nil {
		f.Close()
		return nil, err
	}
	return l, nil
}

// waitShared takes the lock shared, waiting up to timeout while another
// process holds it exclusively (a restore).
func (l *fileLock) waitShared(ctx context.Context, path string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := l.set(unix.F_RDLCK)
		if err == nil {
			return nil
		}
		if !errLocked(err) {
			return fmt.Errorf("lock %s: %w", path, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("a restore holds the catalog (%s): %w", path, ErrInUse)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// upgrade converts the shared lock to an exclusive one. With wait it retries
// until ctx is done; the shared lock is held throughout.
func (l *fileLock) upgrade(ctx context.Context, wait bool) error {
	for {
		err := l.set(unix.F_WRLCK)
		if err == nil {
			return nil
		}
		if !errLocked(err) {
			return fmt.Errorf("lock catalog: %w", err)
		}
		if !wait {
			return ErrInUse
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// downgrade turns the exclusive lock back into a shared one. Converting down
// never conflicts.
func (l *fileLock) downgrade() {
	if l == nil || l.f == nil {
		return // released by close after a failed reopen
	}
	_ = l.set(unix.F_RDLCK)
}

// close releases the lock; it is safe to call twice, and on a nil lock (a
// read-only catalog opened without one).
func (l *fileLock) close() {
	if l != nil && l.f != nil {
		_ = l.f.Close() // closing the description releases the lock
		l.f = nil
	}
}
