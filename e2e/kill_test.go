package e2e

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
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
			// Starting and creating the catalog takes some ms: the first
			// trial aims there.
			jitter = 2*time.Millisecond + time.Duration(rng.Int64N(int64(20*time.Millisecond)))
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
		got := checkKilled(t, c, ref)
		if got > 0 && got < len(ref) {
			midway++
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

// TestKillScanCreatingCatalog kills the first scan of a catalog in its first
// milliseconds, while the file, its journal and its schema are being
// created: whatever is left must open as an empty catalog or no catalog at
// all, never as a damaged one, and the next scan must complete it.
func TestKillScanCreatingCatalog(t *testing.T) {
	tr := smallTree(t, 50, 10)
	ref := reference(t, tr.root, tr.files)
	rng := rand.New(rand.NewPCG(9, 9))
	for i := range 10 {
		c := newCatalog(t)
		b := c.start("scan", "--quiet", tr.root)
		time.Sleep(time.Duration(rng.Int64N(int64(15 * time.Millisecond))))
		if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Fatal(err)
		}
		if r := b.wait(); r.code != 0 && r.code != 128+int(syscall.SIGKILL) {
			t.Fatalf("trial %d: %s", i, r)
		}
		names, _ := filepath.Glob(c.path + "*")
		t.Logf("trial %d: left %d rows in %q", i, checkKilled(t, c, ref), names)
		c.scan(0, tr.root)
		assertCatalog(t, c.path, ref)
	}
}

// checkKilled checks the catalog c that a killed scan left: it reads with
// integrity, holds only rows of the reference with their right hashes, and
// health passes, or, when the kill came before the schema was committed,
// says there is no catalog yet. It returns how many rows there are, or -1
// when the catalog file was not even created.
func checkKilled(t testing.TB, c *catalog, ref entries) int {
	t.Helper()
	if !fileExists(c.path) {
		return -1
	}
	v := readCatalog(t, c.path)
	rs := v.present()
	if d := subsetDiff(rs, ref); d != "" {
		t.Fatalf("the killed scan left wrong rows: %s", d)
	}
	if v.Schema {
		c.health()
		return len(rs)
	}
	// Killed before the catalog's schema was committed: there is no catalog
	// yet, and health must say so, not call it damaged.
	r := c.mustRun(1, "health")
	if !strings.Contains(r.stdout, "no catalog at") {
		t.Fatalf("health of a catalog killed while being created: %s\n%s", r, r.stdout)
	}
	return len(rs)
}
