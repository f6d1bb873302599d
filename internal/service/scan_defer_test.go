package service

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/uow"
)

// withDeferAfter sets how many added files make a scan set the indexes
// aside, for the rest of the test. Tests that use it must not be parallel.
func withDeferAfter(t *testing.T, n int64) {
	old := deferIndexesAfter
	deferIndexesAfter = n
	t.Cleanup(func() { deferIndexesAfter = old })
}

// fileIndexes returns the names of the files table's secondary indexes, and
// of those set aside.
func fileIndexes(t *testing.T, c *Catalog) (built, deferred []string) {
	t.Helper()
	err := c.DB().WithRead(func(r *sqlx.DB) error {
		if err := r.Select(&built, `SELECT name FROM sqlite_master
			WHERE type = 'index' AND tbl_name = 'files' AND sql IS NOT NULL ORDER BY name`); err != nil {
			return err
		}
		return r.Select(&deferred, "SELECT name FROM deferred_indexes ORDER BY name")
	})
	if err != nil {
		t.Fatal(err)
	}
	return built, deferred
}

// deferTree writes n files, every third a copy of an earlier one, in
// directories of 50.
func deferTree(t *testing.T, n int) string {
	root := t.TempDir()
	for i := range n {
		content := fmt.Sprintf("content %d", i)
		if i%3 == 2 {
			content = fmt.Sprintf("content %d", i/3)
		}
		writeFile(t, filepath.Join(root, fmt.Sprintf("d%02d", i/50), fmt.Sprintf("file-%04d.txt", i)), []byte(content))
	}
	return root
}

// answers collects what queries say of a catalog: duplicate groups, a
// name search, and lookups by md5 and sha256.
func answers(t *testing.T, c *Catalog) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	if _, err := c.Dupes(ctx, DupesOptions{}, func(g dto.DupeGroup) error {
		fmt.Fprintf(&b, "group %s %d:", g.SHA256, g.Size)
		for _, f := range g.Files {
			fmt.Fprintf(&b, " %s", f.Path)
		}
		b.WriteString("\n")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	m := md5.Sum([]byte("content 7"))
	for _, o := range []FindOptions{{Name: "file-01*", MaxSize: -1}, {Hash: hex.EncodeToString(m[:]), MaxSize: -1}, {Hash: sha256Of([]byte("content 8")), MaxSize: -1}} {
		if _, err := c.Find(ctx, o, func(f dto.FileWithHash) error {
			fmt.Fprintf(&b, "find %+v: %s %s\n", o, f.Path, f.Hash.SHA1)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// TestScanDefersIndexes proves that a scan adding many files sets the
// secondary indexes aside, builds every one of them again before it ends,
// and leaves a catalog that answers every query as one whose indexes were
// kept up to date all along.
func TestScanDefersIndexes(t *testing.T) {
	root := deferTree(t, 600)
	ops := func(c *Catalog, id int64) map[string]int64 {
		sc := getScan(t, c, id)
		out := map[string]int64{}
		for op, m := range sc.TxMetrics.Ops {
			out[op] = m.Count
		}
		return out
	}

	withDeferAfter(t, 1<<62)
	live := openTestCatalog(t)
	liveRep := mustScan(t, live, []string{root}, ScanOptions{})
	wantIndexes, _ := fileIndexes(t, live)
	if len(wantIndexes) < 5 {
		t.Fatalf("a new catalog has indexes %q; want the schema's secondary indexes", wantIndexes)
	}
	if n := ops(live, liveRep.ID); n["scan.defer_indexes"] != 0 || n["scan.build_index"] != 0 {
		t.Fatalf("a scan below the threshold set indexes aside: %v", n)
	}

	withDeferAfter(t, 100)
	bulk := openTestCatalog(t)
	rep := mustScan(t, bulk, []string{root}, ScanOptions{})
	if rep.Counts.Added != 600 || rep.Status != dto.ScanComplete {
		t.Fatalf("scan: %s %+v", rep.Status, rep.Counts)
	}
	if n := ops(bulk, rep.ID); n["scan.defer_indexes"] != 1 || n["scan.build_index"] != 7 {
		t.Fatalf("scan transactions %v; want one that sets the indexes aside and one per index (6, files_scan and files_dir since version 7) that builds it, and one that rebuilds the summary (since version 11)", n)
	}
	built, deferred := fileIndexes(t, bulk)
	if !slices.Equal(built, wantIndexes) || len(deferred) != 0 {
		t.Fatalf("after the scan: indexes %q, set aside %q; want %q and none", built, deferred, wantIndexes)
	}
	checkIntegrity(t, bulk)
	if got, want := answers(t, bulk), answers(t, live); got != want || !strings.Contains(want, "group ") {
		t.Errorf("queries after a scan with indexes set aside:\n%s\nwant, as with indexes kept:\n%s", got, want)
	}
	if got, want := dumpFiles(t, bulk), dumpFiles(t, live); len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	} else {
		for p, w := range want {
			g := got[p]
			// Two catalogs, two scans; and a file hashed within the racy
			// window of its change stores no ctime, which depends on timing.
			g.Scanned, g.ScanID, w.Scanned = 0, w.ScanID, 0
			g.CtimeNS, w.CtimeNS = 0, 0
			if !reflect.DeepEqual(g, w) {
				t.Errorf("%s: %+v, want %+v", p, g, w)
			}
		}
	}

	// A second scan adding fewer files than a quarter of the catalog keeps
	// the indexes up to date.
	for i := range 120 {
		writeFile(t, filepath.Join(root, "more", fmt.Sprintf("m%03d", i)), []byte(fmt.Sprint("more ", i)))
	}
	rep = mustScan(t, bulk, []string{root}, ScanOptions{})
	if rep.Counts.Added != 120 {
		t.Fatalf("second scan: %+v", rep.Counts)
	}
	if n := ops(bulk, rep.ID); n["scan.defer_indexes"] != 0 {
		t.Errorf("a scan adding 120 files to 600 set the indexes aside: %v", n)
	}
}

// TestScanBuildsIndexesOfDeadScan proves that indexes set aside by a scan
// that was killed are built by the next scan on the host, unless a scan that
// may own them still runs, and that health reports them meanwhile.
func TestScanBuildsIndexesOfDeadScan(t *testing.T) {
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skipf("cannot run true to get a dead pid: %v", err)
	}
	host, _ := os.Hostname()
	ctx := context.Background()
	root := deferTree(t, 30)
	path := filepath.Join(t.TempDir(), "cat", "c.db") // a directory indexer creates, private
	c := openCatalogAt(t, path)
	mustScan(t, c, []string{root}, ScanOptions{})
	want, _ := fileIndexes(t, c)

	// What a scan killed while adding many files leaves behind.
	killedScan := func(pid int) {
		err := c.UoW().Do(ctx, "test", func(ctx context.Context, r *uow.Repos) error {
			if _, err := r.Indexes.Defer(ctx); err != nil {
				return err
			}
			_, err := r.Scans.Create(ctx, dto.Scan{Machine: "m", Roots: []string{root}, Started: time.Now(), Host: host, PID: pid})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	healthOf := func() dto.Health {
		return Health(ctx, path, db.Options{}, false)
	}

	// Another process that may own them still runs: they stay set aside.
	// (files_path and files_links are kept: see repo.Indexes.Defer.)
	killedScan(os.Getppid())
	kept := []string{"files_links", "files_path"}
	aside := slices.DeleteFunc(slices.Clone(want), func(n string) bool { return slices.Contains(kept, n) })
	aside = append(aside, "summary") // the triggers that keep the summary, set aside with them
	if built, deferred := fileIndexes(t, c); !slices.Equal(built, kept) || !slices.Equal(deferred, aside) || len(aside) < 4 {
		t.Fatalf("after Defer: indexes %q, set aside %q; want %q and %q", built, deferred, kept, aside)
	}
	if h := healthOf(); h.Status != dto.StatusDegraded || !strings.Contains(fmt.Sprint(h.Checks), "files_name") {
		t.Errorf("health with indexes set aside: %s %+v; want degraded, naming them", h.Status, h.Checks)
	}
	mustScan(t, c, []string{root}, ScanOptions{})
	if built, deferred := fileIndexes(t, c); !slices.Equal(built, kept) || !slices.Equal(deferred, aside) {
		t.Fatalf("a scan built the indexes of a scan still running: indexes %q, set aside %q", built, deferred)
	}
	// Its process is gone: the next scan takes them over and builds them.
	err := c.DB().WithWrite(func(w *sqlx.DB) error {
		_, err := w.ExecContext(ctx, "UPDATE scans SET pid = ? WHERE status = 'running'", dead.Process.Pid)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	mustScan(t, c, []string{root}, ScanOptions{})
	if built, deferred := fileIndexes(t, c); !slices.Equal(built, want) || len(deferred) != 0 {
		t.Fatalf("after the next scan: indexes %q, set aside %q; want %q and none", built, deferred, want)
	}
	if h := healthOf(); h.Status != dto.StatusOK {
		t.Errorf("health after the build: %s %+v", h.Status, h.Checks)
	}
}

// TestScanInterruptedBuildsIndexes proves that a scan stopped (Ctrl-C) while
// its indexes are set aside still builds them, with what it committed.
func TestScanInterruptedBuildsIndexes(t *testing.T) {
	withDeferAfter(t, 50)
	root := deferTree(t, 400)
	c := openTestCatalog(t)
	want, _ := fileIndexes(t, c)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	testHookBeforeHash = func(string) {
		if n++; n == 300 {
			cancel()
		}
	}
	defer func() { testHookBeforeHash = nil }()
	rep, err := c.Scan(ctx, []string{root}, ScanOptions{Machine: "m", Workers: 1, Readers: 1})
	if err == nil || rep.Status != dto.ScanInterrupted {
		t.Fatalf("scan: %v, %s; want interrupted", err, rep.Status)
	}
	if rep.Counts.Added < 100 || rep.Counts.Added >= 400 {
		t.Fatalf("interrupted scan added %d files; the test wants it stopped well after the indexes were set aside", rep.Counts.Added)
	}
	if sc := getScan(t, c, rep.ID); sc.TxMetrics.Ops["scan.defer_indexes"].Count != 1 || sc.TxMetrics.Ops["scan.build_index"].Count == 0 {
		t.Fatalf("scan transactions %+v; want the indexes set aside, then built", sc.TxMetrics.Ops)
	}
	if built, deferred := fileIndexes(t, c); !slices.Equal(built, want) || len(deferred) != 0 {
		t.Fatalf("after the interrupted scan: indexes %q, set aside %q; want %q and none", built, deferred, want)
	}
	if got := countRows(t, c, "SELECT COUNT(*) FROM files"); int64(got) != rep.Counts.Added {
		t.Errorf("%d rows, report says %d added", got, rep.Counts.Added)
	}
	checkIntegrity(t, c)
}

// TestScanIndexBuildFailureIsAWarning proves that an index that cannot be
// built costs the scan nothing: its rows are committed and it completes, the
// other indexes are built, and health names the one left.
func TestScanIndexBuildFailureIsAWarning(t *testing.T) {
	ctx := context.Background()
	root := deferTree(t, 20)
	path := filepath.Join(t.TempDir(), "cat", "c.db") // a directory indexer creates, private
	c := openCatalogAt(t, path)
	err := c.UoW().Do(ctx, "test", func(ctx context.Context, r *uow.Repos) error {
		_, err := r.Indexes.Defer(ctx)
		return err
	})
	if err == nil {
		// Sorted last, and its column does not exist: it cannot be built.
		err = c.DB().WithWrite(func(w *sqlx.DB) error {
			_, err := w.ExecContext(ctx, "INSERT INTO deferred_indexes (name, sql) VALUES ('files_zz', 'CREATE INDEX files_zz ON files (no_such_column)')")
			return err
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	rep := mustScan(t, c, []string{root}, ScanOptions{})
	if rep.Status != dto.ScanComplete || rep.Counts.Added != 20 {
		t.Fatalf("scan: %s %+v; want complete, 20 added", rep.Status, rep.Counts)
	}
	built, deferred := fileIndexes(t, c)
	// The summary is rebuilt after every index, so it waits with files_zz
	// (queries read the rows meanwhile).
	if !slices.Equal(deferred, []string{"files_zz", "summary"}) || !slices.Contains(built, "files_name") {
		t.Fatalf("indexes %q, set aside %q; want all built but files_zz, and the summary waiting", built, deferred)
	}
	if h := Health(ctx, path, db.Options{}, false); h.Status != dto.StatusDegraded || !strings.Contains(fmt.Sprint(h.Checks), "files_zz") {
		t.Errorf("health: %s %+v; want degraded, naming files_zz", h.Status, h.Checks)
	}
}
