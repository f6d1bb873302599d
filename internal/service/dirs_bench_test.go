package service

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkDirDigests measures the directory digests of a scan: their first
// computation, in the first scan of a tree laid out as the bench corpus
// (bench/corpus: 100 files a directory, two levels), and their update in a
// rescan after 1% of the files changed. Both are the "scan.dirs" unit of
// work of the scan's metrics. INDEXER_BENCH_DIRS_FILES sets the number of
// files (default 100,000). The files are small: no digest reads a file.
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
		rep := mustScan(b, c, []string{root}, ScanOptions{})
		first += dirsMS(c, rep.ID)
		for range files / 100 {
			i := rng.IntN(files)
			writeFile(b, name(i), fmt.Appendf(nil, "changed %d %d", round, i))
		}
		outOfRacyWindow()
		rep = mustScan(b, c, []string{root}, ScanOptions{})
		if rep.Counts.Modified == 0 {
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
