package service

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
)

// commits records what a catalog's OnCommit function is handed.
type commits struct {
	mu    sync.Mutex
	calls []string // each call's tags, joined by spaces
}

func watchCommits(c *Catalog) *commits {
	w := &commits{}
	c.UoW().OnCommit(func(tags []string) {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.calls = append(w.calls, strings.Join(tags, " "))
	})
	return w
}

// take returns the calls so far and forgets them.
func (w *commits) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.calls
	w.calls = nil
	return out
}

// eventTags returns the rows of events after id, each row's tags joined by
// spaces, and the last id.
func eventTags(t *testing.T, c *Catalog, after int64) ([]string, int64) {
	t.Helper()
	var out []string
	last := after
	err := c.DB().WithRead(func(r *sqlx.DB) error {
		es, complete, err := db.EventsAfter(context.Background(), r, after)
		if !complete {
			t.Error("events incomplete")
		}
		for _, e := range es {
			out = append(out, strings.Join(e.Tags, " "))
			last = e.ID
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, last
}

// TestScanRecordsTags checks every write transaction of a scan: each names
// what it changed, in the catalog's events table and to OnCommit alike, and
// none goes unrecorded.
func TestScanRecordsTags(t *testing.T) {
	withDeferAfter(t, 100)
	root := deferTree(t, 600)
	outOfRacyWindow() // so that a rescan finds the files clean and rewrites none
	c := openTestCatalog(t)
	w := watchCommits(c)
	_, last := eventTags(t, c, 0)

	rep := mustScan(t, c, []string{root}, ScanOptions{})
	calls := w.take()
	rows, last := eventTags(t, c, last)
	if !slices.Equal(calls, rows) {
		t.Fatalf("OnCommit calls %q; events rows %q: want the same", calls, rows)
	}
	// Every transaction the scan committed: those in its metrics, and the
	// one that stored them.
	ops := getScan(t, c, rep.ID).TxMetrics.Ops
	total := int64(1)
	for _, m := range ops {
		total += m.Count
	}
	if int64(len(calls)) != total {
		t.Errorf("%d commits recorded tags; the scan committed %d (%v)", len(calls), total, ops)
	}
	count := map[string]int64{}
	for _, c := range calls {
		count[c]++
	}
	want := map[string]int64{
		"scans":                    2, // start, finish
		"changes files machine:m1": ops["scan.chunk"].Count,
		"indexes":                  ops["scan.defer_indexes"].Count + ops["scan.build_index"].Count,
		"dirs scans":               ops["scan.dirs"].Count, // directory digests, and the scan marked done with them
	}
	if want["indexes"] != 7 || want["changes files machine:m1"] == 0 || want["dirs scans"] != 1 {
		t.Fatalf("scan transactions %v; the test needs chunks, indexes set aside and built", ops)
	}
	for k, v := range want {
		if count[k] != v {
			t.Errorf("%d commits touched %q; want %d (all: %v)", count[k], k, v, count)
		}
	}
	if calls[0] != "scans" || calls[len(calls)-1] != "scans" {
		t.Errorf("first and last commits touched %q and %q; want the scan's row", calls[0], calls[len(calls)-1])
	}

	// A rescan that finds a file gone marks it deleted.
	if err := os.Remove(filepath.Join(root, "d00", "file-0000.txt")); err != nil {
		t.Fatal(err)
	}
	rep = mustScan(t, c, []string{root}, ScanOptions{})
	ops = getScan(t, c, rep.ID).TxMetrics.Ops
	if rep.Counts.Deleted != 1 || ops["scan.delete"].Count != 1 || ops["scan.chunk"].Count != 0 {
		t.Fatalf("rescan: %+v, transactions %v; want one deleted, by one transaction, and no chunk", rep.Counts, ops)
	}
	calls = w.take()
	rows, _ = eventTags(t, c, last)
	wantCalls := []string{"scans", "changes files machine:m1", "dirs scans", "scans"}
	if !slices.Equal(calls, wantCalls) || !slices.Equal(rows, wantCalls) {
		t.Errorf("rescan: OnCommit %q, events %q; want %q", calls, rows, wantCalls)
	}

	// Another machine's scan names its own machine.
	mustScan(t, c, []string{filepath.Join(root, "d01")}, ScanOptions{Machine: "m2"})
	if calls := w.take(); !slices.Contains(calls, "changes files machine:m2") {
		t.Errorf("scan of m2: OnCommit %q; want one touching machine:m2", calls)
	}
}

// TestRestoreAnnouncesEpoch: a restore in this process tells OnCommit that
// everything changed.
func TestRestoreAnnouncesEpoch(t *testing.T) {
	ctx := context.Background()
	c := backupTestOpen(t)
	backupTestWrite(t, c.UoW(), "/a", "A", 10)
	b, err := c.Backup(ctx, filepath.Join(t.TempDir(), "a.db"), false)
	if err != nil {
		t.Fatal(err)
	}
	w := watchCommits(c)
	if _, err := c.Restore(ctx, b.Path, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := w.take(); !slices.Equal(got, []string{dto.TagEpoch}) {
		t.Errorf("OnCommit calls %q; want [epoch]", got)
	}
	// A restore refused before anything was replaced announces nothing.
	if _, err := c.Restore(ctx, filepath.Join(t.TempDir(), "missing.db"), RestoreOptions{}); err == nil {
		t.Fatal("restore from a missing file succeeded")
	}
	if got := w.take(); len(got) != 0 {
		t.Errorf("OnCommit calls %q after a refused restore; want none", got)
	}
}

// TestForgetRecordsTags: forget's transactions name the machines whose rows
// they removed, in the events table and to OnCommit alike; the last, which
// removes nothing, records nothing.
func TestForgetRecordsTags(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	for _, name := range []string{"a.txt", "b.txt", "sub/c.txt", "sub/d.txt"} {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := openTestCatalog(t)
	mustScan(t, c, []string{root}, ScanOptions{Machine: "m1"})
	mustScan(t, c, []string{filepath.Join(root, "sub")}, ScanOptions{Machine: "m2"})
	if err := os.Remove(filepath.Join(root, "sub", "c.txt")); err != nil {
		t.Fatal(err)
	}
	mustScan(t, c, []string{filepath.Join(root, "sub")}, ScanOptions{Machine: "m2"}) // c.txt: DEL on m2
	_, last := eventTags(t, c, 0)
	w := watchCommits(c)

	got, err := c.ForgetUnder(ctx, "m1", []string{root})
	if err != nil || got.Rows != 4 {
		t.Fatalf("ForgetUnder = %+v, %v; want 4 rows", got, err)
	}
	calls := w.take()
	rows, last := eventTags(t, c, last)
	want := []string{"files machine:m1"}
	if !slices.Equal(calls, want) || !slices.Equal(rows, want) {
		t.Errorf("forget under: OnCommit %q, events %q; want %q", calls, rows, want)
	}

	got, err = c.ForgetDeleted(ctx, time.Time{})
	if err != nil || got.Rows != 1 {
		t.Fatalf("ForgetDeleted = %+v, %v; want 1 row", got, err)
	}
	calls = w.take()
	rows, _ = eventTags(t, c, last)
	want = []string{"files machine:m2"}
	if !slices.Equal(calls, want) || !slices.Equal(rows, want) {
		t.Errorf("forget deleted: OnCommit %q, events %q; want %q", calls, rows, want)
	}
}
