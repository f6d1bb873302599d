package web_test

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/catalogtest"
	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/service"
	"github.com/indexer/indexer/internal/web"
)

// stampedeFiles is the size of the stampede test's catalog; set
// INDEXER_STAMPEDE_FILES to change it. 1,000,000 passes too, but generating
// it takes over a minute on two cores (34 s of CPU), too long for every run.
const stampedeFiles = 200_000

// metric returns the value of the series named exactly series (name and
// labels, as /metrics prints them) in a Prometheus text exposition.
func metric(t testing.TB, text []byte, series string) float64 {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(text))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			v, err := strconv.ParseFloat(rest, 64)
			if err != nil {
				t.Fatalf("series %s: %v", series, err)
			}
			return v
		}
	}
	t.Fatalf("no series %s in /metrics:\n%s", series, text)
	return 0
}

// TestStampedeOneLoad: 200 concurrent requests over real HTTP for a cold
// /api/dupes on a large catalog run one catalog load, counted by /metrics,
// and all get the same answer.
func TestStampedeOneLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a large catalog")
	}
	n := stampedeFiles
	if v := os.Getenv("INDEXER_STAMPEDE_FILES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatalf("INDEXER_STAMPEDE_FILES=%q: %v", v, err)
		}
	}
	path := filepath.Join(t.TempDir(), "index.db")
	opts := db.DefaultOptions()
	opts.UnlockIdle = true
	cat, err := service.Open(t.Context(), path, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	start := time.Now()
	release, err := cat.DB().Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	g, err := catalogtest.Generate(t.Context(), cat, catalogtest.Spec{Files: n, Seed: 1})
	release()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("generated %d files (%d contents) in %s", g.Files, g.Contents, time.Since(start).Round(time.Millisecond))

	srv, err := web.New(web.Config{Catalog: cat, DBOptions: db.DefaultOptions(), Machine: "m1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 200}}
	get := func(path string) (*http.Response, []byte) {
		resp, err := client.Get(ts.URL + path)
		if err != nil {
			t.Error(err)
			return nil, nil
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Error(err)
		}
		return resp, b
	}

	const clients = 200
	bodies := make([][]byte, clients)
	results := make([]string, clients)
	var ready, done sync.WaitGroup
	gate := make(chan struct{})
	ready.Add(clients)
	for i := range clients {
		done.Go(func() {
			ready.Done()
			<-gate
			resp, b := get("/api/dupes")
			if resp == nil {
				return
			}
			if resp.StatusCode != http.StatusOK {
				t.Errorf("request %d: %d %s", i, resp.StatusCode, b)
			}
			bodies[i], results[i] = b, resp.Header.Get("X-Cache")
		})
	}
	ready.Wait()
	close(gate)
	done.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for i := range bodies {
		if !bytes.Equal(bodies[i], bodies[0]) {
			t.Fatalf("answer %d differs from answer 0", i)
		}
	}
	if !bytes.Contains(bodies[0], []byte(`"sha256"`)) {
		t.Fatalf("the answer lists no group: %.200s", bodies[0])
	}
	_, m := get("/metrics")
	loads := metric(t, m, "indexer_cache_loads_total")
	miss := metric(t, m, `indexer_cache_requests_total{result="miss"}`)
	fresh := metric(t, m, `indexer_cache_requests_total{result="fresh"}`)
	coalesced := metric(t, m, "indexer_cache_coalesced_total")
	t.Logf("X-Cache: %v miss, %v fresh; %v coalesced; the load took %.3fs", miss, fresh, coalesced,
		metric(t, m, "indexer_cache_load_seconds_sum"))
	if loads != 1 {
		t.Errorf("%v catalog loads for %d concurrent requests; want 1", loads, clients)
	}
	if miss+fresh != clients || coalesced != miss-1 {
		t.Errorf("%v misses, %v fresh, %v coalesced; want %d requests in all, all misses but one coalesced", miss, fresh, coalesced, clients)
	}
	count := map[string]int{}
	for _, r := range results {
		count[r]++
	}
	if count["miss"] != int(miss) || count["fresh"] != int(fresh) {
		t.Errorf("X-Cache headers %v; /metrics says %v misses, %v fresh", count, miss, fresh)
	}
}
