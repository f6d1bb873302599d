package service

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/indexer/indexer/internal/db"
)

// TestRestoreInSameProcessWaitsForScan proves that a Replace through the same
// catalog object cannot swap the file under a running scan: the scan's later
// transactions refer to row ids it read from the old file, so a swap in the
// middle would mark rows of the restored catalog DEL.
func TestRestoreInSameProcessWaitsForScan(t *testing.T) {
	root := t.TempDir()
	for i := range 20 {
		writeFile(t, filepath.Join(root, fmt.Sprintf("f%02d", i)), randomBytes(uint64(i), 100))
	}
	c := openTestCatalog(t)
	ctx := context.Background()

	entered, proceed := make(chan struct{}), make(chan struct{})
	first := true
	testHookBeforeHash = func(string) {
		if first {
			first = false
			close(entered)
			<-proceed
		}
	}
	t.Cleanup(func() { testHookBeforeHash = nil })
	done := make(chan error, 1)
	go func() {
		_, err := c.Scan(ctx, []string{root}, ScanOptions{Machine: "m", Workers: 1, Readers: 1})
		done <- err
	}()
	<-entered

	swapped := false
	err := c.DB().Replace(ctx, false, func(string) error { swapped = true; return nil })
	if !errors.Is(err, db.ErrInUse) || swapped {
		t.Errorf("Replace during a scan: err %v, swapped %v; want ErrInUse and no swap", err, swapped)
	}
	close(proceed)
	if err := <-done; err != nil {
		t.Fatalf("scan: %v", err)
	}
	if err := c.DB().Replace(ctx, false, func(string) error { swapped = true; return nil }); err != nil || !swapped {
		t.Errorf("Replace after the scan: err %v, swapped %v; want it to run", err, swapped)
	}
}
