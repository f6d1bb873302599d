package cmd

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/db"
)

// TestServeSortsSingleThreaded checks that serve makes its process's sorts
// single-threaded before it opens the catalog: each SQLite worker thread
// leaves a record behind in modernc's libc, which a server would pile up
// (see db.SingleThreadedSorts). A command's process keeps its workers. It
// leaves this test process's sorts single-threaded, which changes no answer.
func TestServeSortsSingleThreaded(t *testing.T) {
	if db.SortWorkers() == 0 {
		t.Fatal("sorts are single-threaded before serve ran")
	}
	catalog := filepath.Join(t.TempDir(), "index.db")
	newCatalog(t, catalog, 3)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out, errb bytes.Buffer
	root, _ := NewRoot(&out, &errb)
	done := make(chan int, 1)
	go func() { done <- run(ctx, root, []string{"--db", catalog, "serve", "--addr", "127.0.0.1:0"}, &errb) }()
	deadline := time.Now().Add(10 * time.Second)
	for db.SortWorkers() != 0 {
		select {
		case code := <-done:
			t.Fatalf("serve exited %d before its sorts were single-threaded: %s", code, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("serve's sorts are not single-threaded after 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("serve exited %d after its context ended: %s", code, errb.String())
	}
}
