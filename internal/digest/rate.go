package digest

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Rate measures the in-memory md5+sha1+sha256 throughput of workers
// goroutines, each hashing 8 MiB streams in BufSize writes, for about d, in
// bytes per second: the ceiling a scan's hashing can reach on this machine
// when reading costs nothing, with the md5 implementation in use (MD5). Give
// it as many workers as a scan has (see Streams).
func Rate(ctx context.Context, workers int, d time.Duration) float64 {
	buf := make([]byte, 8<<20)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	var total atomic.Int64
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			h := New()
			for ctx.Err() == nil {
				h.Reset()
				for off := 0; off < len(buf); off += BufSize {
					h.Write(buf[off:min(off+BufSize, len(buf))])
				}
				h.Sum()
				total.Add(int64(len(buf)))
			}
		})
	}
	wg.Wait()
	return float64(total.Load()) / time.Since(start).Seconds()
}
