package service

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/db"
)

// BenchmarkVerifyVsScan reads the same tree of 2,000 files with a first
// scan and with verify, and reports both rates and their ratio: verify
// should read at least 90% as fast as the scan hashes.
func BenchmarkVerifyVsScan(b *testing.B) {
	const files = 2000
	dir, total := benchTree(b, files)
	ctx := context.Background()
	var scanTime, verifyTime time.Duration
	for i := 0; i < b.N; i++ {
		c, err := Open(ctx, filepath.Join(b.TempDir(), "index.db"), db.DefaultOptions(), nil)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		rep, err := c.Scan(ctx, []string{dir}, ScanOptions{Machine: "bench"})
		scanTime += time.Since(start)
		if err != nil || rep.Counts.Added != files {
			b.Fatalf("scan: %v, %+v", err, rep.Counts)
		}
		start = time.Now()
		vrep, err := c.Verify(ctx, VerifyOptions{Machine: "bench"})
		verifyTime += time.Since(start)
		if err != nil || vrep.OK != files || vrep.Bytes != total {
			b.Fatalf("verify: %v, %+v", err, vrep)
		}
		c.Close()
	}
	mbps := func(d time.Duration) float64 { return float64(total) * float64(b.N) / d.Seconds() / 1e6 }
	b.ReportMetric(mbps(scanTime), "scan-MB/s")
	b.ReportMetric(mbps(verifyTime), "verify-MB/s")
	b.ReportMetric(scanTime.Seconds()/verifyTime.Seconds(), "verify/scan")
}
