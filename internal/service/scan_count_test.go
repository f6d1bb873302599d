package service

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestScanNoTotalsCountsNothing: with NoTotals (nobody shows the ETA) the
// roots are not walked a second time to count them. The first file's read
// waits for a count that, with totals, completes at once on this tree.
func TestScanNoTotalsCountsNothing(t *testing.T) {
	dir := t.TempDir()
	for i := range 20 {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("f%02d", i)), fmt.Appendf(nil, "file %d", i))
	}
	for _, noTotals := range []bool{false, true} {
		c := openTestCatalog(t)
		p := &ScanProgress{}
		var once sync.Once
		counted := false
		testHookBeforeHash = func(string) {
			once.Do(func() {
				for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline) && !counted; time.Sleep(5 * time.Millisecond) {
					counted = p.Snapshot(time.Now()).Counted
				}
			})
		}
		mustScan(t, c, []string{dir}, ScanOptions{Progress: p, NoTotals: noTotals})
		testHookBeforeHash = nil
		if counted == noTotals {
			t.Errorf("NoTotals %v: roots counted %v", noTotals, counted)
		}
	}
}
