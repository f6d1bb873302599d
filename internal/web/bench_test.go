package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/cache"
	"github.com/indexer/indexer/internal/catalogtest"
	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/service"
	"github.com/indexer/indexer/internal/web"
)

// benchFiles is the size of the benchmark catalog, as in the service's
// BenchmarkQueries1M.
const benchFiles = 1_000_000

// benchCatalog opens a 1,000,000-file catalog as serve does, built in a
// temporary directory, or kept at INDEXER_BENCH_DB and reused (the same
// file service's benchmarks use).
func benchCatalog(b *testing.B) *service.Catalog {
	path := os.Getenv("INDEXER_BENCH_DB")
	if path == "" {
		path = filepath.Join(b.TempDir(), "index.db")
	}
	_, statErr := os.Stat(path)
	opts := db.DefaultOptions()
	opts.UnlockIdle = true
	c, err := service.Open(context.Background(), path, opts, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	if statErr != nil {
		release, err := c.DB().Acquire(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		_, err = catalogtest.Generate(context.Background(), c, catalogtest.Spec{Files: benchFiles, Seed: 1})
		release()
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("built a %d-file catalog in %s", benchFiles, time.Since(start).Round(time.Millisecond))
	}
	return c
}

// benchServer serves c with copts over real HTTP.
func benchServer(b *testing.B, c *service.Catalog, copts cache.Options) (*web.Server, string) {
	srv, err := web.New(web.Config{Catalog: c, DBOptions: db.DefaultOptions(), Machine: "bench", Cache: copts})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	ts := httptest.NewServer(srv.Handler())
	b.Cleanup(ts.Close)
	return srv, ts.URL
}

var benchClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// benchGet fetches url and reads its answer; it may run on the clients'
// goroutines, so a failure is an Error.
func benchGet(b *testing.B, url string) {
	resp, err := benchClient.Get(url)
	if err != nil {
		b.Error(err)
		return
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Errorf("GET %s: %d %v", url, resp.StatusCode, err)
	}
}

// latencies collects request durations from parallel clients.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// report adds requests per second and the 50th and 99th percentiles.
func (l *latencies) report(b *testing.B, elapsed time.Duration) {
	slices.Sort(l.d)
	pct := func(p float64) float64 {
		return float64(l.d[min(len(l.d)-1, int(p*float64(len(l.d))))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(len(l.d))/elapsed.Seconds(), "req/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkServe1M: requests per second and latency of /api/dupes and
// /api/stats on a 1,000,000-file catalog over real HTTP, from 8 clients,
// answered from the cache and with the cache off; and the hit ratio of a
// mixed read workload while a scan runs in the server.
func BenchmarkServe1M(b *testing.B) {
	c := benchCatalog(b)
	on := cache.DefaultOptions()
	off := cache.DefaultOptions()
	off.Disabled = true
	for _, path := range []string{"/api/dupes", "/api/stats"} {
		for _, mode := range []struct {
			name string
			opts cache.Options
		}{{"cached", on}, {"uncached", off}} {
			b.Run(path[len("/api/"):]+"/"+mode.name, func(b *testing.B) {
				_, base := benchServer(b, c, mode.opts)
				benchGet(b, base+path) // the cache's first load
				var l latencies
				b.SetParallelism(4) // 8 clients on 2 cores
				b.ResetTimer()
				start := time.Now()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						t := time.Now()
						benchGet(b, base+path)
						l.add(time.Since(t))
					}
				})
				l.report(b, time.Since(start))
			})
		}
	}

	// What a few people browsing do: the overview, duplicates pages and
	// sorts, searches, trees. The same workload beside a scan of 20,000
	// new files, and alone for 30 s.
	paths := []string{"/api/stats", "/api/machines", "/api/scans", "/api/health", "/api/dupes",
		"/api/dupes?offset=50", "/api/dupes?sort=size", "/api/dupes?sort=count", "/api/dupes?machine=nas",
		"/api/find?name=*invoice_12*", "/api/find?name=*.mp3&limit=100", "/api/tree?machine=laptop&path=/home/alice",
		"/api/tree?machine=nas&path=/srv/share/alice", "/api/tree?machine=desktop&path=/home/bob"}
	b.Run("mixed-with-scan", func(b *testing.B) {
		_, base := benchServer(b, c, on)
		tree := b.TempDir()
		for i := range 20_000 {
			p := filepath.Join(tree, fmt.Sprintf("d%03d", i/100), fmt.Sprintf("f%05d.txt", i))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(p, fmt.Appendf(nil, "content %d", i%15_000), 0o644); err != nil {
				b.Fatal(err)
			}
		}
		b.Cleanup(func() { // leave INDEXER_BENCH_DB as it was
			release, err := c.DB().Acquire(context.Background())
			if err == nil {
				_, err = c.ForgetUnder(context.Background(), "bench", []string{tree})
				release()
			}
			if err != nil {
				b.Error(err)
			}
		})
		for _, p := range paths { // warm: the ratio is that of the window
			benchGet(b, base+p)
		}
		h0, m0 := cacheCounts(b, base)
		for b.Loop() {
			resp, err := benchClient.Post(base+"/api/scans", "application/json",
				strings.NewReader(fmt.Sprintf(`{"roots": [%q]}`, tree)))
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				b.Fatalf("POST /api/scans: %d", resp.StatusCode)
			}
			start := time.Now()
			n := mixedWorkload(b, base, paths, func() bool { return scanRunning(b, base) })
			b.ReportMetric(float64(n), "requests")
			b.ReportMetric(time.Since(start).Seconds(), "scan-s")
		}
		h1, m1 := cacheCounts(b, base)
		b.ReportMetric((h1-h0)/(h1-h0+m1-m0), "hit-ratio")
		b.ReportMetric(0, "ns/op")
	})
	b.Run("mixed-alone", func(b *testing.B) {
		_, base := benchServer(b, c, on)
		for _, p := range paths {
			benchGet(b, base+p)
		}
		h0, m0 := cacheCounts(b, base)
		for b.Loop() {
			end := time.Now().Add(30 * time.Second) // long enough to see the steady state past the first loads
			n := mixedWorkload(b, base, paths, func() bool { return time.Now().Before(end) })
			b.ReportMetric(float64(n), "requests")
		}
		h1, m1 := cacheCounts(b, base)
		b.ReportMetric((h1-h0)/(h1-h0+m1-m0), "hit-ratio")
		b.ReportMetric(0, "ns/op")
	})
}

// mixedWorkload runs 8 clients, each going round paths with a pause of
// 50 ms between requests (a person reading), while more says so; it
// returns the number of requests.
func mixedWorkload(b *testing.B, base string, paths []string, more func() bool) int64 {
	var requests atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for client := range 8 {
		wg.Go(func() {
			for i := client; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				benchGet(b, base+paths[i%len(paths)])
				requests.Add(1)
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
	for more() {
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	return requests.Load()
}

// cacheCounts returns the cache's hits (fresh and stale) and misses so far,
// from /metrics.
func cacheCounts(b *testing.B, base string) (hits, misses float64) {
	resp, err := benchClient.Get(base + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	hits = metric(b, body, `indexer_cache_requests_total{result="fresh"}`) + metric(b, body, `indexer_cache_requests_total{result="stale"}`)
	return hits, metric(b, body, `indexer_cache_requests_total{result="miss"}`)
}

// scanRunning tells whether the server's /metrics says a scan runs.
func scanRunning(b *testing.B, base string) bool {
	resp, err := benchClient.Get(base + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	return metric(b, body, "indexer_scan_running") == 1
}
