package service

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dbtest"
)

// BenchmarkHashFile measures the hashing path of one file: open, fstat, one
// read through md5, sha1 and sha256, fstat again.
func BenchmarkHashFile(b *testing.B) {
	p := filepath.Join(b.TempDir(), "f.bin")
	data := make([]byte, 8<<20)
	rand.NewChaCha8([32]byte{1}).Read(data)
	writeFile(b, p, data)
	prog := &ScanProgress{}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, _, err := hashFile(context.Background(), p, false, prog); err != nil {
			b.Fatal(err)
		}
	}
}

// benchTree writes files files of 1 to 64 KiB in 40 directories and returns
// the root and the total size.
func benchTree(b *testing.B, files int) (string, int64) {
	b.Helper()
	dir := b.TempDir()
	rng := rand.New(rand.NewPCG(3, 4))
	src := rand.NewChaCha8([32]byte{2})
	var total int64
	for i := range files {
		data := make([]byte, 1<<10+rng.IntN(63<<10+1))
		src.Read(data)
		writeFile(b, filepath.Join(dir, fmt.Sprintf("d%02d", i%40), fmt.Sprintf("f%05d.bin", i)), data)
		total += int64(len(data))
	}
	return dir, total
}

// BenchmarkScan measures whole scans of a generated tree of 2,000 files: a
// first scan into a fresh catalog, and a rescan where nothing changed.
func BenchmarkScan(b *testing.B) {
	const files = 2000
	dir, total := benchTree(b, files)
	ctx := context.Background()
	opts := ScanOptions{Machine: "bench"}

	b.Run("first", func(b *testing.B) {
		b.SetBytes(total)
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			c, err := Open(ctx, dbtest.Location(b, filepath.Join(b.TempDir(), "index.db")), db.DefaultOptions(), nil)
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			rep, err := c.Scan(ctx, []string{dir}, opts)
			b.StopTimer()
			if err != nil || rep.Counts.Added != files {
				b.Fatalf("scan: %v, %+v", err, rep.Counts)
			}
			c.Close()
			b.StartTimer()
		}
		b.ReportMetric(float64(files*b.N)/b.Elapsed().Seconds(), "files/s")
	})

	b.Run("rescan-unchanged", func(b *testing.B) {
		c, err := Open(ctx, dbtest.Location(b, filepath.Join(b.TempDir(), "index.db")), db.DefaultOptions(), nil)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		outOfRacyWindow()
		if _, err := c.Scan(ctx, []string{dir}, opts); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			rep, err := c.Scan(ctx, []string{dir}, opts)
			if err != nil || rep.Counts.Unchanged != files || rep.Counts.BytesHashed != 0 {
				b.Fatalf("rescan read files again: %v, %+v", err, rep.Counts)
			}
		}
		b.ReportMetric(float64(files*b.N)/b.Elapsed().Seconds(), "files/s")
	})
}
