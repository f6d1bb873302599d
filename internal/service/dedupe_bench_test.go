package service

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkDedupeApplyHardlinks applies a plan of 10,000 hard links (10,000
// groups of two small files), byte comparison included, and reports files
// per second. Setup (writing, scanning, planning) is not timed.
func BenchmarkDedupeApplyHardlinks(b *testing.B) {
	const groups = 10000
	for b.Loop() {
		b.StopTimer()
		root := b.TempDir()
		for i := range groups {
			data := fmt.Appendf(nil, "content %d\n", i)
			for _, side := range []string{"a", "b"} {
				writeFile(b, filepath.Join(root, side, fmt.Sprintf("%02d", i%100), fmt.Sprintf("f%05d", i)), data)
			}
		}
		time.Sleep(racyWindow) // complete fingerprints, as in real use
		c := openTestCatalog(b)
		ctx := context.Background()
		if _, err := c.Scan(ctx, []string{root}, ScanOptions{Machine: "m"}); err != nil {
			b.Fatal(err)
		}
		p, err := c.Plan(ctx, DedupePlanOptions{Dupes: DupesOptions{Machine: "m", MinSize: 1}, Action: ActionHardlink,
			Keep: []string{"under:" + filepath.Join(root, "a")}})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		rep, err := c.Apply(ctx, &p, ApplyOptions{Machine: "m"})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(rep.Applied)/time.Since(start).Seconds(), "files/s")
		if rep.Applied != groups {
			b.Fatalf("applied %d; want %d (skipped %d)", rep.Applied, groups, len(rep.Skipped))
		}
	}
}
