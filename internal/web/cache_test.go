package web_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/cache"
	"github.com/indexer/indexer/internal/web"
)

// fetch sends a GET with the given header lines ("Name: value") and returns
// the response (body read) and the body.
func (f *fixture) fetch(path string, headers ...string) (*http.Response, []byte) {
	f.t.Helper()
	req, err := http.NewRequestWithContext(f.t.Context(), "GET", f.ts.URL+path, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ": ")
		req.Header.Add(name, value)
	}
	resp, err := f.ts.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp, b
}

// metrics returns GET /metrics.
func (f *fixture) metrics() []byte {
	f.t.Helper()
	resp, b := f.fetch("/metrics")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		f.t.Fatalf("GET /metrics: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	return b
}

func wantHeader(t *testing.T, resp *http.Response, name, want string) {
	t.Helper()
	if got := resp.Header.Get(name); got != want {
		t.Errorf("%s %s: %s %q; want %q", resp.Request.Method, resp.Request.URL.Path, name, got, want)
	}
}

// TestCacheHTTP: the headers of cached answers, 304 without a load, a
// no-cache request loading anew, the empty-answer TTL, the hit ratio in
// health and the series of /metrics.
func TestCacheHTTP(t *testing.T) {
	f := newFixture(t, "")
	loads := func() float64 { return metric(t, f.metrics(), "indexer_cache_loads_total") }

	resp, first := f.fetch("/api/dupes")
	wantHeader(t, resp, "X-Cache", "miss")
	wantHeader(t, resp, "Cache-Control", "private, max-age=30, stale-while-revalidate=60")
	etag := resp.Header.Get("ETag")
	if !strings.HasPrefix(etag, `W/"`) {
		t.Fatalf("ETag %q; want a weak one", etag)
	}
	resp, again := f.fetch("/api/dupes")
	wantHeader(t, resp, "X-Cache", "fresh")
	wantHeader(t, resp, "ETag", etag)
	if string(again) != string(first) {
		t.Errorf("fresh answer differs from the loaded one")
	}
	before := loads()

	resp, b := f.fetch("/api/dupes", "If-None-Match: "+etag)
	if resp.StatusCode != http.StatusNotModified || len(b) != 0 {
		t.Errorf("If-None-Match with the current ETag: %d %q; want 304 and no body", resp.StatusCode, b)
	}
	wantHeader(t, resp, "ETag", etag)
	resp, _ = f.fetch("/api/dupes", `If-None-Match: W/"other", `+strings.TrimPrefix(etag, "W/"))
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match naming the ETag among others, strong form: %d; want 304", resp.StatusCode)
	}
	resp, _ = f.fetch("/api/dupes?limit=1", "If-None-Match: "+etag)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("If-None-Match with another query's ETag: %d; want 200", resp.StatusCode)
	}
	m := f.metrics()
	if got := metric(t, m, "indexer_http_not_modified_total"); got != 2 {
		t.Errorf("indexer_http_not_modified_total %v; want 2", got)
	}
	if got := loads(); got != before+1 { // the limit=1 page
		t.Errorf("%v loads after the 304s and one new query; want %v", got, before+1)
	}

	before = loads()
	resp, b = f.fetch("/api/dupes", "Cache-Control: no-cache")
	wantHeader(t, resp, "X-Cache", "bypass")
	if string(b) != string(first) || loads() != before+1 {
		t.Errorf("no-cache: same answer %v, loads %v → %v; want the same answer and one load", string(b) == string(first), before, loads())
	}
	resp, _ = f.fetch("/api/dupes", "Pragma: no-cache")
	wantHeader(t, resp, "X-Cache", "bypass")
	resp, _ = f.fetch("/api/dupes")
	wantHeader(t, resp, "X-Cache", "fresh")

	// Nothing matched: the short TTL, no stale window.
	resp, _ = f.fetch("/api/find?name=no-such-file")
	wantHeader(t, resp, "Cache-Control", "private, max-age=5")
	// An error is not cached.
	resp, _ = f.fetch("/api/tree")
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("ETag") != "" {
		t.Errorf("GET /api/tree without machine: %d, ETag %q; want 400 and none", resp.StatusCode, resp.Header.Get("ETag"))
	}

	// Health: the hit ratio, and no ETag (the ratio changes beside the catalog).
	resp, b = f.fetch("/api/health")
	var h struct {
		Facts map[string]any `json:"facts"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	ratio, ok := h.Facts["cache_hit_ratio"].(float64)
	if !ok || ratio <= 0 || ratio >= 1 {
		t.Errorf("health facts %v; want a cache_hit_ratio between 0 and 1", h.Facts)
	}
	if resp.Header.Get("ETag") != "" {
		t.Errorf("health has ETag %q; want none", resp.Header.Get("ETag"))
	}
	resp, _ = f.fetch("/api/health")
	wantHeader(t, resp, "X-Cache", "fresh")

	m = f.metrics()
	for _, series := range []string{`indexer_cache_requests_total{result="stale"}`, `indexer_cache_invalidations_total{source="epoch"}`,
		"indexer_cache_load_errors_total", "indexer_cache_evictions_total", "indexer_cache_entries", "indexer_cache_bytes",
		`indexer_db_connections_open{pool="read"}`, `indexer_db_connections_in_use{pool="write"}`, "indexer_db_reopens_total",
		"indexer_scan_running", "indexer_cache_load_seconds_count"} {
		metric(t, m, series)
	}
	if got := metric(t, m, `indexer_cache_requests_total{result="fresh"}`); got != 3 {
		t.Errorf("%v fresh requests counted; want 3 (the 304s are not cache requests)", got)
	}
	if got := metric(t, m, "indexer_cache_load_errors_total"); got != 1 {
		t.Errorf("%v load errors; want 1 (the tree without machine)", got)
	}
}

// TestCacheOff: with the cache off every answer is loaded, X-Cache says
// bypass, and nothing may be kept.
func TestCacheOff(t *testing.T) {
	f := newFixtureConfig(t, "", web.Config{Cache: cache.Options{Disabled: true}})
	for range 2 {
		resp, _ := f.fetch("/api/dupes")
		wantHeader(t, resp, "X-Cache", "bypass")
		wantHeader(t, resp, "Cache-Control", "no-store")
		wantHeader(t, resp, "ETag", "")
	}
	if got := metric(t, f.metrics(), "indexer_cache_loads_total"); got != 2 {
		t.Errorf("%v loads for two requests; want 2", got)
	}
}

// TestCacheHearsOtherHandleBeforeAnswering: with the watcher's own looks an
// hour apart, a write committed by another handle (the CLI, as another
// process would) is in the next answer, and its old ETag gets no 304.
func TestCacheHearsOtherHandleBeforeAnswering(t *testing.T) {
	f := newFixtureConfig(t, "", web.Config{WatchInterval: time.Hour})
	var page struct {
		Total int64 `json:"groups_total"`
	}
	f.get("/api/dupes", &page)
	resp, _ := f.fetch("/api/dupes")
	wantHeader(t, resp, "X-Cache", "fresh")
	etag := resp.Header.Get("ETag")
	groups := page.Total

	writeTree(t, f.root, map[string]string{"new/one.dat": "a new pair", "new/two.dat": "a new pair"})
	f.cli("--machine", "m1", "scan", "-q", f.root)
	resp, b := f.fetch("/api/dupes", "If-None-Match: "+etag)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("after another handle's scan, If-None-Match with the old ETag: %d; want 200", resp.StatusCode)
	}
	wantHeader(t, resp, "X-Cache", "miss")
	decode(t, b, &page)
	if page.Total != groups+1 {
		t.Errorf("after another handle's scan: %d groups; want %d", page.Total, groups+1)
	}
	if got := metric(t, f.metrics(), `indexer_cache_invalidations_total{source="process"}`); got == 0 {
		t.Error("no invalidation from another process counted")
	}
}

// TestCacheRestoreByAnotherHandle: a restore by another handle while the
// server is idle: the next answer of every endpoint comes from the restored
// catalog, the pools were reopened, and the epoch moved.
func TestCacheRestoreByAnotherHandle(t *testing.T) {
	f := newFixtureConfig(t, "", web.Config{WatchInterval: time.Hour})
	backup := filepath.Join(t.TempDir(), "before.db")
	f.cli("backup", backup)
	var before, after struct {
		Files int64 `json:"files"`
	}
	f.get("/api/stats", &before)
	writeTree(t, f.root, map[string]string{"later/x.txt": "later"})
	f.cli("--machine", "m1", "scan", "-q", f.root)
	f.get("/api/stats", &after)
	if after.Files != before.Files+1 {
		t.Fatalf("stats after the scan: %d files; want %d", after.Files, before.Files+1)
	}
	var found web.FindPage
	f.get("/api/find?name=x.txt", &found)
	if len(found.Files) != 1 {
		t.Fatalf("find x.txt: %d rows; want 1", len(found.Files))
	}

	f.cli("restore", "--yes", backup)
	f.get("/api/stats", &after)
	if after.Files != before.Files {
		t.Errorf("stats after the restore: %d files; want %d", after.Files, before.Files)
	}
	f.get("/api/find?name=x.txt", &found)
	if len(found.Files) != 0 {
		t.Errorf("find x.txt after the restore: %d rows; want none", len(found.Files))
	}
	m := f.metrics()
	if got := metric(t, m, "indexer_db_reopens_total"); got != 1 {
		t.Errorf("indexer_db_reopens_total %v; want 1", got)
	}
	if got := metric(t, m, `indexer_cache_invalidations_total{source="epoch"}`); got == 0 {
		t.Error("no epoch invalidation counted after a restore")
	}
	_ = os.Remove(backup)
}
