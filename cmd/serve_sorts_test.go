package cmd

import (
	"bytes"
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// TestServeSortsSingleThreaded checks that serve makes its process's sorts
// single-threaded: each SQLite worker thread leaves a record behind in
// modernc's libc, which a server would pile up (see db.SingleThreadedSorts,
// whose effect the db tests check). The switch is recorded, not thrown:
// this process keeps its workers.
func TestServeSortsSingleThreaded(t *testing.T) {
	var called atomic.Bool
	catalog := filepath.Join(t.TempDir(), "index.db")
	newCatalog(t, catalog, 3)
	old := singleThreadedSorts
	t.Cleanup(func() { singleThreadedSorts = old })
	singleThreadedSorts = func() { called.Store(true) }
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out, errb bytes.Buffer
	root, _ := NewRoot(&out, &errb)
	done := make(chan int, 1)
	go func() { done <- run(ctx, root, []string{"--db", catalog, "serve", "--addr", "127.0.0.1:0"}, &errb) }()
	deadline := time.Now().Add(10 * time.Second)
	for !called.Load() {
		select {
		case code := <-done:
			t.Fatalf("serve exited %d without making its sorts single-threaded: %s", code, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("serve did not make its sorts single-threaded in 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Ended before or after it opened the catalog and listened: either
	// way it stops, interrupted or not.
	cancel()
	if code := <-done; code != ExitOK && code != ExitInterrupted {
		t.Errorf("serve exited %d after its context ended: %s", code, errb.String())
	}
}
