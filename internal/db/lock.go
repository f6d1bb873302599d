package db

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// fileLock is an flock(2) on a file beside the catalog. Every process that
// opens the catalog holds it shared; Replace takes it exclusively, so a restore
// never swaps the file under a running scan or a query in another process.
type fileLock struct {
	f *os.File
}

func acquireShared(ctx context.Context, path string, timeout time.Duration) (*fileLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		f, err = os.Open(path) // a read-only directory may still hold the lock file
	}
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	l := &fileLock{f: f}
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
		if err == nil {
			return l, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("a restore holds the catalog (%s): %w", path, ErrInUse)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// upgrade converts the shared lock to an exclusive one. flock conversions are
// not atomic: an attempt that fails drops the shared lock, so it is taken
// again at once, between attempts as well as before returning.
func (l *fileLock) upgrade(ctx context.Context, wait bool) error {
	for {
		err := syscall.Flock(int(l.f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			l.downgrade()
			return fmt.Errorf("lock catalog: %w", err)
		}
		// The failed conversion dropped the shared lock: take it back while
		// waiting, or another process could swap the file under our pools.
		l.downgrade()
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

func (l *fileLock) downgrade() {
	if l.f == nil {
		return // released by close after a failed reopen
	}
	// Blocking: another process may have slipped in between; it holds the lock
	// shared too, which does not block us. A signal may interrupt the wait.
	for syscall.Flock(int(l.f.Fd()), syscall.LOCK_SH) == syscall.EINTR {
	}
}

// close releases the lock; it is safe to call twice.
func (l *fileLock) close() {
	if l.f != nil {
		_ = l.f.Close() // closing the descriptor releases the lock
		l.f = nil
	}
}
