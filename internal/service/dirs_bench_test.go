package service

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/jmoiron/sqlx"
)

// BenchmarkDirDigests measures the directory digests of a scan: their first
// computation, in the first scan of a tree laid out as the bench corpus
// (bench/corpus: 100 files a directory, two levels), and their update in a
// rescan after 1% of the files changed. Both are the "scan.dirs" unit of
// work of the scan's metrics. INDEXER_BENCH_DIRS_FILES sets the number of
// files (default 100,000). The files are small: no digest reads a file.
//
// 1% of the files means that many distinct files. On SQLite the catalog's
// WAL is folded into its file before each scan: SQLite does that in the
// commit that takes the WAL past 64 MiB, and it is the rescan's writes of
// the files' rows (about 11,000 pages for 1,000 files, with their indexes
// and summary) that take it there, in scan.dirs' commit, which would then
// be charged with copying some 17,000 pages of which it wrote 1,500.
func BenchmarkDirDigests(b *testing.B) {
	files := 100_000
	if v := os.Getenv("INDEXER_BENCH_DIRS_FILES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatal(err)
		}
		files = n
	}
	root := b.TempDir()
	name := func(i int) string {
		d := i / 100
		return filepath.Join(root, fmt.Sprintf("d%03d", d/100), fmt.Sprintf("d%03d", d%100), fmt.Sprintf("f%07d.bin", i))
	}
	for i := range files {
		writeFile(b, name(i), []byte(strconv.Itoa(i%(files*4/5+1))))
	}
	dirsMS := func(c *Catalog, id int64) float64 {
		sc := getScan(b, c, id)
		return sc.TxMetrics.Ops["scan.dirs"].TotalMS
	}
	rng := rand.New(rand.NewPCG(5, 6))
	var first, incr float64
	round := 0
	for b.Loop() {
		round++
		c := openTestCatalog(b)
		foldWAL(b, c)
		rep := mustScan(b, c, []string{root}, ScanOptions{})
		first += dirsMS(c, rep.ID)
		for _, i := range rng.Perm(files)[:files/100] {
			writeFile(b, name(i), fmt.Appendf(nil, "changed %d %d", round, i))
		}
		outOfRacyWindow()
		foldWAL(b, c)
		rep = mustScan(b, c, []string{root}, ScanOptions{})
		if rep.Counts.Modified != int64(files/100) {
			b.Fatalf("rescan changed nothing: %+v", rep.Counts)
		}
		incr += dirsMS(c, rep.ID)
		c.Close()
	}
	n := float64(round)
	b.ReportMetric(first/n, "first-ms")
	b.ReportMetric(incr/n, "update-1%-ms")
	b.ReportMetric(incr/first, "ratio")
}

// foldWAL copies a SQLite catalog's WAL into its file and empties it, so
// that the next unit of work measured pays for no page another one wrote.
// Nothing on PostgreSQL.
func foldWAL(tb testing.TB, c *Catalog) {
	tb.Helper()
	if c.db.Dialect().Shared {
		return
	}
	err := c.db.WithWrite(func(w *sqlx.DB) error {
		_, err := w.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
}
