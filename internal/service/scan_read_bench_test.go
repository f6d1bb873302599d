package service

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/indexer/indexer/internal/walk"
)

// BenchmarkReadAheadCold measures the read stage alone (walk → readers,
// nothing hashed or written) with the page cache dropped before each pass,
// for several numbers of readers, with and without the prefetcher: how fast
// small files come off the disk with that many reads in flight. The hash workers, bounded by the CPUs,
// cannot go faster than this. It needs a tree (INDEXER_COLD_TREE, such as
// the bench's small corpus) and root, to drop the page cache.
func BenchmarkReadAheadCold(b *testing.B) {
	tree := os.Getenv("INDEXER_COLD_TREE")
	if tree == "" || os.Geteuid() != 0 {
		b.Skip("set INDEXER_COLD_TREE to a tree of small files, and run as root")
	}
	c := openTestCatalog(b)
	for _, m := range []struct{ readers, prefetch int }{
		{1, 0}, {2, 0}, {8, 0}, {32, 0}, {64, 0}, {2, prefetchAhead}, {8, prefetchAhead}, {32, prefetchAhead},
	} {
		readers := m.readers
		b.Run(fmt.Sprintf("readers=%d/prefetch=%d", readers, m.prefetch), func(b *testing.B) {
			defer func(n int) { prefetchFiles = n }(prefetchFiles)
			prefetchFiles = m.prefetch
			var bytes int64
			for b.Loop() {
				b.StopTimer()
				if err := exec.Command("sync").Run(); err != nil {
					b.Fatal(err)
				}
				if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				s := &scanRun{c: c, opts: ScanOptions{Readers: readers, Workers: 1, Progress: &ScanProgress{}},
					rep: ScanReport{Roots: []string{tree}}}
				g, ctx := errgroup.WithContext(context.Background())
				jobs := make(chan job, 8)
				g.Go(func() error {
					defer close(jobs)
					return walk.Walk(ctx, []string{tree}, walk.Options{}, func(ev walk.Event) error {
						if ev.Kind == walk.File {
							jobs <- job{path: ev.Path, st: ev.Stat}
						}
						return nil
					})
				})
				for j := range s.readAhead(g, ctx, jobs) {
					if j.read != nil {
						if j.read.err != nil {
							b.Fatal(j.path, j.read.err)
						}
						j.read.release()
					}
				}
				if err := g.Wait(); err != nil {
					b.Fatal(err)
				}
				bytes = s.opts.Progress.Bytes.Load()
			}
			b.SetBytes(bytes)
		})
	}
}
