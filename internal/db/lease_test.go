package db_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dbtest"
	"github.com/indexer/indexer/internal/uow"
)

// TestUnlockIdleLetsReplaceIn is a long-lived server's handle (UnlockIdle)
// beside a restoring one: while the server is idle the restore goes through,
// while a lease is held it is refused, and the server's next lease reads the
// new file.
func TestUnlockIdleLetsReplaceIn(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	path, repl := filepath.Join(dir, "index.db"), filepath.Join(dir, "restore.db")
	catalogWith(t, path, "old")
	catalogWith(t, repl, "new-1", "new-2")

	opts := db.DefaultOptions()
	opts.UnlockIdle = true
	server := dbtest.MustOpenOptions(t, path, opts)
	su := uow.New(server)
	read := func() []string {
		t.Helper()
		release, err := server.Acquire(ctx)
		if err != nil {
			t.Fatalf("Acquire: %v", err)
		}
		defer release()
		got, err := labels(ctx, su)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := read(); !slices.Equal(got, []string{"old"}) {
		t.Fatalf("before: %v; want [old]", got)
	}

	restorer := dbtest.MustOpenPath(t, path)
	// While the server is busy, the restore cannot have the catalog.
	release, err := server.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := restorer.Replace(ctx, false, moveInto(repl)); !errors.Is(err, db.ErrInUse) {
		t.Fatalf("Replace during a lease = %v; want ErrInUse", err)
	}
	release()

	if err := restorer.Replace(ctx, false, moveInto(repl)); err != nil {
		t.Fatalf("Replace while the server is idle: %v", err)
	}
	if got := read(); !slices.Equal(got, []string{"new-1", "new-2"}) {
		t.Errorf("server after the restore reads %v; want [new-1 new-2]", got)
	}
	if got := server.Stats().Reopens; got != 1 {
		t.Errorf("server reopened %d times; want 1", got)
	}
	// The server's writes land in the new file, which the restorer sees.
	release, err = server.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	insertLabels(t, su, "after")
	release()
	if got, err := labels(ctx, uow.New(restorer)); err != nil || !slices.Equal(got, []string{"after", "new-1", "new-2"}) {
		t.Errorf("restorer reads %v, %v; want [after new-1 new-2]", got, err)
	}
}

// TestUnlockIdleWaitsForRestore: a lease taken while another handle holds
// the catalog exclusively waits for it, and ends with its context.
func TestUnlockIdleWaitsForRestore(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "index.db")
	catalogWith(t, path, "a")
	opts := db.DefaultOptions()
	opts.UnlockIdle = true
	server := dbtest.MustOpenOptions(t, path, opts)
	restorer := dbtest.MustOpenPath(t, path)

	inSwap, leave := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		done <- restorer.Replace(t.Context(), false, func(string) error {
			close(inSwap)
			<-leave
			return nil
		})
	}()
	<-inSwap
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := server.Acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Acquire during a swap = %v; want it to wait until its context ends", err)
	}
	close(leave)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	release, err := server.Acquire(t.Context())
	if err != nil {
		t.Fatalf("Acquire after the swap: %v", err)
	}
	release()
}

// TestOnReopenBeforeLease: after another process replaced the catalog, the
// OnReopen function has run by the time the server's next Acquire returns
// (a cache dropped there serves nothing of the old file), and only then;
// a Replace in this process calls it too.
func TestOnReopenBeforeLease(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	path, repl, repl2 := filepath.Join(dir, "index.db"), filepath.Join(dir, "restore.db"), filepath.Join(dir, "restore2.db")
	catalogWith(t, path, "old")
	catalogWith(t, repl, "new")
	catalogWith(t, repl2, "newer")

	opts := db.DefaultOptions()
	opts.UnlockIdle = true
	server := dbtest.MustOpenOptions(t, path, opts)
	var calls atomic.Int64
	server.OnReopen(func() { calls.Add(1) })
	lease := func() {
		t.Helper()
		release, err := server.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		release()
	}
	lease()
	if got := calls.Load(); got != 0 {
		t.Fatalf("OnReopen called %d times before any replace; want 0", got)
	}
	restorer := dbtest.MustOpenPath(t, path)
	if err := restorer.Replace(ctx, false, moveInto(repl)); err != nil {
		t.Fatal(err)
	}
	if got := calls.Load(); got != 0 {
		t.Fatalf("OnReopen called %d times by another handle's Replace alone; want 0 until the next lease", got)
	}
	lease()
	if got := calls.Load(); got != 1 {
		t.Fatalf("OnReopen called %d times when the lease returned; want 1", got)
	}
	lease()
	if got := calls.Load(); got != 1 {
		t.Fatalf("OnReopen called %d times after a lease on an unchanged file; want 1", got)
	}
	restorer.Close()
	if err := server.Replace(ctx, false, moveInto(repl2)); err != nil {
		t.Fatal(err)
	}
	if got := calls.Load(); got != 2 {
		t.Errorf("OnReopen called %d times after this handle's Replace; want 2", got)
	}
}
