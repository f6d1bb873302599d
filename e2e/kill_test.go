package e2e

import (
	"errors"
	"math/rand/v2"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestKillScan kills a scan with SIGKILL at moments spread over its whole
// run, from catalog creation to the last commit. After each kill the catalog
// must open and pass health --full, hold only correct rows (a subset of the
// reference: every committed file with the right hash), and the next scan
// must complete and leave exactly the reference.
func TestKillScan(t *testing.T) {
	tr := bigTree(t)
	ref := reference(t, tr.root, tr.files)

	const trials = 12
	rng := rand.New(rand.NewPCG(8, 8))
	killed, midway := 0, 0
	for i := range trials {
		c := newCatalog(t)
		b := c.start("scan", "--quiet", tr.root)
		// Trial i kills once about i/trials of the files are committed, plus
		// a random delay, so that the moments do not depend on how fast this
		// machine is: the first trials hit catalog creation and the first
		// chunks, the last ones the final commits and the scan's bookkeeping.
		target := i * len(ref) / trials
		if target > 0 {
			waitRows(t, c.path, target, b.done)
		}
		jitter := time.Duration(rng.Int64N(int64(60 * time.Millisecond)))
		if target == 0 {
			// Opening and creating the catalog takes some tens of ms.
			jitter = 10*time.Millisecond + time.Duration(rng.Int64N(int64(100*time.Millisecond)))
		}
		time.Sleep(jitter)
		if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Fatal(err)
		}
		r := b.wait()
		switch r.code {
		case 128 + int(syscall.SIGKILL):
			killed++
		case 0:
			t.Logf("trial %d: the scan ended by itself before the kill", i)
		default:
			t.Fatalf("trial %d: %s", i, r)
		}
		got := -1
		if fileExists(c.path) {
			checkIntegrity(t, c.path)
			rs := rows(t, c.path)
			got = len(rs)
			if d := subsetDiff(rs, ref); d != "" {
				t.Fatalf("trial %d: the killed scan left wrong rows: %s", i, d)
			}
			c.health()
			if got > 0 && got < len(ref) {
				midway++
			}
		}
		t.Logf("trial %d: killed after %d rows + %s with %d of %d files committed", i, target, jitter, got, len(ref))
		s := c.scan(0, tr.root)
		if s.Status != "complete" || s.Failed != 0 || s.Deleted != 0 {
			t.Fatalf("trial %d: the scan after the kill: %+v", i, s)
		}
		assertCatalog(t, c.path, ref)
		if h := c.health(); h.Status != "ok" {
			t.Fatalf("trial %d: health after the completing scan is %s", i, h.Status)
		}
	}
	// Kills that missed the scan, or all landed before or after its work,
	// would prove nothing.
	if killed < 10 || midway < trials/2 {
		t.Fatalf("%d of %d trials killed the scan, %d of them mid-way: want at least 10 and %d", killed, trials, midway, trials/2)
	}
}
