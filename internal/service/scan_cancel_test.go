package service

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
)

// TestScanCancel interrupts a rescan that has to read every file again, then
// checks that the catalog is sound and nothing became DEL, and that the next
// scan completes it to what a clean scan of the same tree records.
func TestScanCancel(t *testing.T) {
	const n = 2500
	dir := t.TempDir()
	want := map[string]string{} // path → sha256 of its content
	var paths []string
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("d%02d", i%25), fmt.Sprintf("f%04d", i))
		b := fmt.Appendf(nil, "content of file %d\n", i)
		writeFile(t, p, b)
		want[p] = sha256Of(b)
		paths = append(paths, p)
	}
	c := openTestCatalog(t)
	mustScan(t, c, []string{dir}, ScanOptions{})

	// Some files go; the others get a new ctime, so that the next scan must
	// read them all again and would mark the gone ones DEL if it completed.
	var removed []string
	for i := 0; i < n; i += n / 10 {
		if err := os.Remove(paths[i]); err != nil {
			t.Fatal(err)
		}
		removed = append(removed, paths[i])
	}
	now := time.Now()
	for _, p := range paths {
		if !slices.Contains(removed, p) {
			if err := os.Chtimes(p, now, now); err != nil {
				t.Fatal(err)
			}
		}
	}
	outOfRacyWindow()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var started atomic.Int64
	testHookBeforeHash = func(string) {
		if started.Add(1) == 300 {
			cancel()
		}
	}
	fds := openFiles(t)
	rep, err := c.Scan(ctx, []string{dir}, ScanOptions{Machine: "m1"})
	testHookBeforeHash = nil
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want %v", err, context.Canceled)
	}
	// The prefetcher opens files ahead of the readers: those the scan did
	// not get to read are closed too.
	if after := openFiles(t); after > fds+2 {
		t.Errorf("%d descriptors open after the interrupted scan, %d before", after, fds)
	}
	if rep.Status != dto.ScanInterrupted || rep.Counts.Deleted != 0 {
		t.Fatalf("report %s %+v, want interrupted, nothing deleted", rep.Status, rep.Counts)
	}
	if rep.Counts.FilesSeen == 0 || rep.Counts.FilesSeen >= n-int64(len(removed)) {
		t.Fatalf("%d files seen: the test wants a scan cut short after some work was committed", rep.Counts.FilesSeen)
	}
	if sc := getScan(t, c, rep.ID); sc.Status != dto.ScanInterrupted || sc.Finished.IsZero() || sc.ScanCounts != rep.Counts {
		t.Fatalf("scans row %s finished %v %+v, want interrupted, finished, %+v", sc.Status, sc.Finished, sc.ScanCounts, rep.Counts)
	}
	checkIntegrity(t, c)
	rows := dumpFiles(t, c)
	if len(rows) != n {
		t.Fatalf("%d rows, want %d", len(rows), n)
	}
	committed := 0
	for p, r := range rows {
		if r.Op == string(dto.OpDel) {
			t.Errorf("%s became DEL in an interrupted scan", p)
		}
		if r.SHA256.String != want[p] {
			t.Errorf("%s: sha256 %s, want %s", p, r.SHA256.String, want[p])
		}
		if r.ScanID.Int64 == rep.ID {
			committed++
		}
	}
	// What the report counts is what was committed: the work done is kept.
	if int64(committed) != rep.Counts.FilesSeen {
		t.Errorf("%d rows carry the interrupted scan, it reported %d files", committed, rep.Counts.FilesSeen)
	}

	// The next scan completes the catalog and does not read again what the
	// interrupted one stored.
	next := mustScan(t, c, []string{dir}, ScanOptions{})
	var presentBytes int64
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			presentBytes += fi.Size()
		}
	}
	if next.Status != dto.ScanComplete || next.Counts.Deleted != int64(len(removed)) ||
		next.Counts.BytesHashed+rep.Counts.BytesHashed != presentBytes {
		t.Fatalf("next scan %s %+v: want complete, %d deleted, %d bytes read in the two scans, not %d",
			next.Status, next.Counts, len(removed), presentBytes, next.Counts.BytesHashed+rep.Counts.BytesHashed)
	}
	checkIntegrity(t, c)

	ref := openTestCatalog(t)
	mustScan(t, ref, []string{dir}, ScanOptions{})
	got, wantRows := present(dumpFiles(t, c)), present(dumpFiles(t, ref))
	if !maps.Equal(got, wantRows) {
		t.Fatalf("catalog after resuming differs from a clean scan: %d vs %d files", len(got), len(wantRows))
	}
	var dels []string
	for p, r := range dumpFiles(t, c) {
		if r.Op == string(dto.OpDel) {
			dels = append(dels, p)
		}
	}
	slices.Sort(dels)
	if !slices.Equal(dels, removed) {
		t.Fatalf("DEL rows %q, want %q", dels, removed)
	}
}

// present maps the catalog's non-DEL paths to their sha256.
func present(rows map[string]fileRow) map[string]string {
	out := map[string]string{}
	for p, r := range rows {
		if r.Op != string(dto.OpDel) {
			out[p] = r.SHA256.String
		}
	}
	return out
}

// TestScanStopsWhenCatalogUnwritable: when the catalog cannot be written at
// all (here another program holds its write lock), the scan fails and stops
// reading files instead of hashing the rest of the tree for nothing.
func TestScanStopsWhenCatalogUnwritable(t *testing.T) {
	const n = 2000
	dir := t.TempDir()
	for i := range n {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("d%02d", i%30), fmt.Sprintf("f%04d", i)), fmt.Appendf(nil, "%d", i))
	}
	path := filepath.Join(t.TempDir(), "index.db")
	opts := db.DefaultOptions()
	opts.BusyTimeout, opts.BusyRetries = 50*time.Millisecond, 0
	c, err := Open(context.Background(), path, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	other, err := sqlx.Open(db.DriverName, "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var hashed atomic.Int64
	var lock sync.Once
	testHookBeforeHash = func(string) {
		hashed.Add(1)
		lock.Do(func() {
			if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
				t.Error(err)
			}
		})
	}
	// Two workers keep the bound below independent of the machine.
	rep, err := c.Scan(context.Background(), []string{dir}, ScanOptions{Machine: "m1", Workers: 2})
	testHookBeforeHash = nil
	if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if !db.IsBusy(err) || rep.Status != dto.ScanFailed {
		t.Fatalf("err %v, status %s: want a busy error and a failed scan", err, rep.Status)
	}
	// A chunk, the results buffer (512) and what the workers hold: some 730
	// files, not the tree.
	if h := hashed.Load(); h > n/2 {
		t.Fatalf("%d of %d files read after the catalog could not be written", h, n)
	}
	checkIntegrity(t, c)
	if rep := mustScan(t, c, []string{dir}, ScanOptions{}); rep.Status != dto.ScanComplete || rep.Counts.Added != n {
		t.Fatalf("next scan %s %+v, want complete with %d added", rep.Status, rep.Counts, n)
	}
}

// openFiles returns how many descriptors the process has open.
func openFiles(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}
