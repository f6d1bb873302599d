package service

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/dto"
)

// TestScanChunksSideBySide: a scan of 2,400 files (twelve chunks) whose
// chunks share contents, extensions and hard links, written by
// chunkWriters(dialect) writers at once (two on PostgreSQL), stores every
// file once with its own digests, logs one addition per file, leaves the
// summary equal to the rows, and meets no deadlock (each one would be a retry
// of a chunk in the scan's metrics). So does a rescan that modifies every
// file and adds as many: chunks that update rows (whose row triggers lock the
// summary's rows in any order) are written one at a time (chunkLock).
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
	rng := rand.New(rand.NewPCG(24, 0))
	var names []string
	for i := range 2400 {
		// Extensions at random: two chunks meet the same ones in
		// different orders.
		names = append(names, filepath.Join(fmt.Sprintf("d%02d", i%30), fmt.Sprintf("f%04d.e%02d", i, rng.IntN(60))))
	}
	for i := range 2400 {
		p := filepath.Join(root, names[i])
		if i%10 == 9 {
			// A hard link of a file written before, in another directory.
			old := filepath.Join(root, names[i-1])
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
	checkSideBySide(t, c, want, rep.ID, 12, 250)
	var logged, distinct int
	err := c.DB().WithRead(func(r *sqlx.DB) error {
		ctx := context.Background()
		if err := r.GetContext(ctx, &logged, "SELECT COUNT(*) FROM changes WHERE op = 'ADD'"); err != nil {
			return err
		}
		return r.GetContext(ctx, &distinct, "SELECT COUNT(DISTINCT path) FROM changes WHERE op = 'ADD'")
	})
	if err != nil {
		t.Fatal(err)
	}
	if logged != len(want) || distinct != len(want) {
		t.Errorf("change log: %d additions of %d paths, want %d", logged, distinct, len(want))
	}

	// Every file modified (the two names of a hard link at once), as
	// many added.
	seen := map[uint64]bool{}
	for p := range want {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if ino := st.Sys().(*syscall.Stat_t).Ino; !seen[ino] {
			seen[ino] = true
			f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write([]byte(p)); err != nil { // a content of its own: no two chunks wait on one
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	var paths []string
	for p := range want {
		paths = append(paths, p)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		want[p] = digestsOf(b).sha256
		added := filepath.Join(filepath.Dir(p), "new-"+filepath.Base(p)) // its extension
		writeFile(t, added, b[:len(b)/2])
		want[added] = digestsOf(b[:len(b)/2]).sha256
	}
	outOfRacyWindow()
	rep = mustScan(t, c, []string{root}, ScanOptions{Workers: 4})
	if rep.Status != dto.ScanComplete || rep.Counts.Modified != 2400 || rep.Counts.Added != 2400 {
		t.Fatalf("rescan: %+v", rep.Counts)
	}
	checkSideBySide(t, c, want, rep.ID, 24, 0)
}

// checkSideBySide checks, for TestScanChunksSideBySide, that the catalog
// holds the files of want, that scan scanID wrote chunks chunks without a
// retry or a failure, and that the summary answers what the rows answer,
// groups of duplicates or more among them.
func checkSideBySide(t *testing.T, c *Catalog, want map[string]string, scanID, chunks, groups int64) {
	t.Helper()
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
	var metrics string
	var exts int
	err := c.DB().WithRead(func(r *sqlx.DB) error {
		ctx := context.Background()
		if err := r.GetContext(ctx, &metrics, r.Rebind("SELECT tx_metrics FROM scans WHERE id = ?"), scanID); err != nil {
			return err
		}
		return r.GetContext(ctx, &exts, "SELECT COUNT(*) FROM file_totals")
	})
	if err != nil {
		t.Fatal(err)
	}
	var m dto.TxMetrics
	if err := json.Unmarshal([]byte(metrics), &m); err != nil {
		t.Fatal(err)
	}
	// Full chunks, and, when the writers' lanes split the files unevenly,
	// a last partial chunk each.
	lanes := int64(chunkWriters(c.DB().Dialect()))
	if ch := m.Ops["scan.chunk"]; ch.Count < chunks || ch.Count > chunks+lanes-1 || ch.BusyRetries != 0 || len(ch.Failures) != 0 {
		t.Errorf("chunk transactions: %+v, want %d to %d, none retried (a deadlock) or failed", ch, chunks, chunks+lanes-1)
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
	if b.DuplicateGroups < groups || exts < 60 {
		t.Fatalf("the fixture proves little: %d groups, %d extensions", b.DuplicateGroups, exts)
	}
}
