package e2e

import (
	"strings"
	"testing"
	"time"
)

// Short busy settings so that a scan facing a foreign lock gives up soon.
var shortBusy = []string{"INDEXER_BUSY_TIMEOUT=500ms", "INDEXER_BUSY_RETRIES=1"}

// TestForeignLockBeforeScan holds the catalog with another program's
// exclusive SQLite lock, taken before the scan starts: the scan waits its
// busy timeout, fails with one clear sentence and exit 1, and writes nothing;
// once the lock is gone the catalog is intact and a scan completes.
func TestForeignLockBeforeScan(t *testing.T) {
	for _, mode := range []string{"transaction", "locking-mode"} {
		t.Run(mode, func(t *testing.T) {
			a, b := smallTree(t, 300, 2), smallTree(t, 300, 3)
			c := newCatalog(t)
			c.scan(0, a.root)
			refA := reference(t, a.root, a.files)
			scans := readCatalog(t, c.path).Scans

			h := holdCatalogLock(t, c.path, mode)
			c.env = shortBusy
			start := time.Now()
			r := c.run("scan", "--quiet", b.root)
			waited := time.Since(start)
			if r.code != 1 {
				t.Fatalf("want exit 1 while another program holds the catalog, got %s", r)
			}
			msg := oneSentence(t, r)
			if !strings.Contains(msg, c.path) || !strings.Contains(msg, "locked by another program") {
				t.Errorf("the message should name the catalog and say another program holds it: %q", msg)
			}
			if waited < 500*time.Millisecond {
				t.Errorf("gave up after %s, before its busy timeout of 500ms", waited)
			}
			h.release(t)

			assertCatalog(t, c.path, refA)
			if got := readCatalog(t, c.path).Scans; got != scans {
				t.Errorf("the failed scan left %d scan rows, want %d", got, scans)
			}
			c.env = nil
			c.scan(0, b.root)
			assertCatalog(t, c.path, refA.merge(reference(t, b.root, b.files)))
		})
	}
}

// TestForeignLockMidScan lets another program take an exclusive lock while a
// scan is committing: the scan fails at its next commit with one clear
// sentence and exit 1, and what it leaves is whole chunks of correct rows,
// every file with its hash. A later scan completes the catalog.
func TestForeignLockMidScan(t *testing.T) {
	tr := bigTree(t)
	ref := reference(t, tr.root, tr.files)
	c := newCatalog(t)
	c.env = shortBusy
	b := c.start("scan", "--quiet", tr.root)
	if waitRows(t, c.path, 400, b.done) < 0 {
		t.Fatalf("the scan ended before the lock was taken: %s", b.wait())
	}
	reads := watchReads(b)
	h := holdCatalogLock(t, c.path, "transaction")
	r := b.wait()
	read := <-reads
	if r.code != 1 {
		t.Fatalf("want exit 1 once another program holds the catalog, got %s", r)
	}
	msg := oneSentence(t, r)
	if !strings.Contains(msg, c.path) || !strings.Contains(msg, "locked by another program") {
		t.Errorf("the message should name the catalog and say another program holds it: %q", msg)
	}
	h.release(t)

	got := rows(t, c.path)
	if d := subsetDiff(got, ref); d != "" {
		t.Fatalf("the failed scan left wrong rows: %s", d)
	}
	// The scan commits new files in chunks of 200 (issue 3): a failed chunk
	// must leave none of its rows.
	if len(got)%200 != 0 || len(got) == len(ref) {
		t.Fatalf("the failed scan left %d rows: not whole chunks of 200, or all of them", len(got))
	}
	// Once nothing more can be stored, reading on is wasted: a scan that
	// failed with a quarter of the tree committed must not have read it all
	// (it holds at most a few hundred files in flight).
	t.Logf("the scan failed with %d of %d files committed, having read %d of the tree's %d bytes", len(got), len(ref), read, tr.bytes)
	if len(got) <= len(ref)/4 && read > tr.bytes*3/4 {
		t.Errorf("the scan went on reading the tree after its catalog failed: %d of %d bytes read", read, tr.bytes)
	}
	c.env = nil
	c.health()
	c.scan(0, tr.root)
	assertCatalog(t, c.path, ref)
}
