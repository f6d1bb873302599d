package service

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/dto"
)

// TestScanChunksSideBySide: a scan of 2,400 files (twelve chunks) whose
// chunks share contents, extensions and hard links, written by
// chunkWriters(dialect) writers at once (two on PostgreSQL), stores every
// file once with its own digests, logs one addition per file, leaves the
// summary equal to the rows, and meets no deadlock (each one would be a retry
// of a chunk in the scan's metrics).
func TestScanChunksSideBySide(t *testing.T) {
	c := openTestCatalog(t)
	if want := map[bool]int{false: 1, true: 2}[c.DB().Dialect().Shared]; chunkWriters(c.DB().Dialect()) != want {
		t.Fatalf("chunkWriters = %d, want %d", chunkWriters(c.DB().Dialect()), want)
	}
	root := t.TempDir()
	want := map[string]string{} // path → sha256
	pool := make([][]byte, 300)
	for i := range pool {
		pool[i] = randomBytes(uint64(i), 1+i%97)
	}
	for i := range 2400 {
		p := filepath.Join(root, fmt.Sprintf("d%02d", i%30), fmt.Sprintf("f%04d.e%02d", i, (i*7)%60))
		if i%10 == 9 {
			// A hard link of a file written before, in another directory.
			old := filepath.Join(root, fmt.Sprintf("d%02d", (i-1)%30), fmt.Sprintf("f%04d.e%02d", i-1, ((i-1)*7)%60))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Link(old, p); err != nil {
				t.Fatal(err)
			}
			want[p] = want[old]
			continue
		}
		b := pool[(i*13)%len(pool)] // every content in eight files or so, across chunks
		writeFile(t, p, b)
		want[p] = digestsOf(b).sha256
	}
	outOfRacyWindow()
	rep := mustScan(t, c, []string{root}, ScanOptions{Workers: 4})
	if rep.Status != dto.ScanComplete || rep.Counts.Added != int64(len(want)) {
		t.Fatalf("scan: %+v", rep.Counts)
	}

	got := map[string]string{}
	if _, err := c.Find(context.Background(), FindOptions{MaxSize: -1}, func(f dto.FileWithHash) error {
		if _, dup := got[f.Path]; dup {
			t.Errorf("%s stored twice", f.Path)
		}
		got[f.Path] = f.Hash.SHA256
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("the catalog holds %d files, want %d, or other digests", len(got), len(want))
	}
	var logged, distinct int
	var metrics string
	err := c.DB().WithRead(func(r *sqlx.DB) error {
		ctx := context.Background()
		if err := r.GetContext(ctx, &logged, "SELECT COUNT(*) FROM changes WHERE op = 'ADD'"); err != nil {
			return err
		}
		if err := r.GetContext(ctx, &distinct, "SELECT COUNT(DISTINCT path) FROM changes WHERE op = 'ADD'"); err != nil {
			return err
		}
		return r.GetContext(ctx, &metrics, r.Rebind("SELECT tx_metrics FROM scans WHERE id = ?"), rep.ID)
	})
	if err != nil {
		t.Fatal(err)
	}
	if logged != len(want) || distinct != len(want) {
		t.Errorf("change log: %d additions of %d paths, want %d", logged, distinct, len(want))
	}
	var m dto.TxMetrics
	if err := json.Unmarshal([]byte(metrics), &m); err != nil {
		t.Fatal(err)
	}
	// Twelve full chunks, or, when the writers' lanes split the files
	// unevenly, a last partial chunk each.
	writers := int64(chunkWriters(c.DB().Dialect()))
	if ch := m.Ops["scan.chunk"]; ch.Count < 12 || ch.Count > 12+writers-1 || ch.BusyRetries != 0 || len(ch.Failures) != 0 {
		t.Errorf("chunk transactions: %+v, want 12 to %d, none retried or failed", ch, 12+writers-1)
	}

	if !summaryCurrent(t, c) {
		t.Fatal("the summary is not current")
	}
	checkContentTotals(t, c, "scan")
	fromSummary := queryAnswers(t, c)
	markSummaryStale(t, c, true)
	fromRows := queryAnswers(t, c)
	markSummaryStale(t, c, false)
	a, b := fromSummary.stats, fromRows.stats
	a.Scans, b.Scans = nil, nil
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("stats from the summary\n%+v\nfrom the rows\n%+v", a, b)
	}
	for i, x := range fromSummary.dupes {
		y := fromRows.dupes[i]
		if x.totals != y.totals || len(x.groups) != len(y.groups) {
			t.Fatalf("dupes %s: from the summary %d groups, %+v; from the rows %d groups, %+v",
				x.opts, len(x.groups), x.totals, len(y.groups), y.totals)
		}
		for j := range x.groups {
			if !reflect.DeepEqual(x.groups[j], y.groups[j]) {
				t.Fatalf("dupes %s: group %d from the summary\n%+v\nfrom the rows\n%+v", x.opts, j, x.groups[j], y.groups[j])
			}
		}
	}
	var exts int
	if err := c.DB().WithRead(func(r *sqlx.DB) error {
		return r.GetContext(context.Background(), &exts, "SELECT COUNT(*) FROM file_totals")
	}); err != nil {
		t.Fatal(err)
	}
	if b.DuplicateGroups < 250 || exts < 60 {
		t.Fatalf("the fixture proves little: %d groups, %d extensions", b.DuplicateGroups, exts)
	}
}

// TestScanModifiedChunksSideBySide: a rescan that finds 1,200 files changed
// and 2,400 new (eighteen chunks over sixty extensions and shared contents),
// written by chunkWriters(dialect) writers at once, meets no deadlock. An
// update of files counts each row in file_totals and contents as it goes (a
// row trigger), in no key order, while an insert counts its rows in key
// order: two chunks written side by side, one of them updating, each held
// rows the other wanted next. Each deadlock costs the server's
// deadlock_timeout (1 s) and a retry of a chunk (the scan's metrics), and a
// chunk that meets one on every try fails the scan.
func TestScanModifiedChunksSideBySide(t *testing.T) {
	c := openTestCatalog(t)
	root := t.TempDir()
	path := func(prefix string, i, ext int) string {
		return filepath.Join(root, fmt.Sprintf("d%02d", i%30), fmt.Sprintf("%s%04d.e%02d", prefix, i, ext))
	}
	for i := range 2400 {
		writeFile(t, path("f", i, (i*7)%60), randomBytes(uint64((i*13)%300), 1+i%97))
	}
	outOfRacyWindow()
	mustScan(t, c, []string{root}, ScanOptions{Workers: 4})
	for i := range 2400 {
		if i%2 == 0 {
			writeFile(t, path("f", i, (i*7)%60), randomBytes(uint64(5000+(i*17)%300), 1+i%89))
		}
		writeFile(t, path("n", i, (i*11)%60), randomBytes(uint64(5000+(i*19)%300), 1+i%89))
	}
	outOfRacyWindow()
	rep := mustScan(t, c, []string{root}, ScanOptions{Workers: 4})
	if rep.Status != dto.ScanComplete || rep.Counts.Modified != 1200 || rep.Counts.Added != 2400 {
		t.Fatalf("rescan %s: %+v", rep.Status, rep.Counts)
	}
	var metrics string
	if err := c.DB().WithRead(func(r *sqlx.DB) error {
		return r.GetContext(context.Background(), &metrics, r.Rebind("SELECT tx_metrics FROM scans WHERE id = ?"), rep.ID)
	}); err != nil {
		t.Fatal(err)
	}
	var m dto.TxMetrics
	if err := json.Unmarshal([]byte(metrics), &m); err != nil {
		t.Fatal(err)
	}
	if ch := m.Ops["scan.chunk"]; ch.BusyRetries != 0 || len(ch.Failures) != 0 {
		t.Errorf("chunk transactions: %+v, want none retried or failed", ch)
	}
	if !summaryCurrent(t, c) {
		t.Fatal("the summary is not current")
	}
	checkContentTotals(t, c, "rescan")
}
