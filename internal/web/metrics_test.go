package web_test

import (
	"bytes"
	"math"
	"net/http"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestMetricsParse: a running server's /metrics, read over HTTP, is the
// 0.0.4 text format by its content type, Prometheus's own parser reads it
// whole, and every family docs/cache.md lists is there with its type and
// labels.
func TestMetricsParse(t *testing.T) {
	f := newFixture(t, "")
	f.fetch("/api/dupes")
	f.fetch("/api/dupes")
	resp, body := f.fetch("/metrics")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Errorf("Content-Type %q; want the 0.0.4 text format's", ct)
	}
	if got := expfmt.ResponseFormat(resp.Header); got.FormatType() != expfmt.TypeTextPlain {
		t.Errorf("expfmt reads the response's format as %q; want text", got)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("Prometheus's parser refuses /metrics: %v\n%s", err, body)
	}
	want := map[string]struct {
		kind   string
		labels []string // the values of the one label, or none
	}{
		"indexer_cache_requests_total":      {"COUNTER", []string{"bypass", "fresh", "miss", "stale"}},
		"indexer_cache_loads_total":         {"COUNTER", nil},
		"indexer_cache_load_errors_total":   {"COUNTER", nil},
		"indexer_cache_coalesced_total":     {"COUNTER", nil},
		"indexer_cache_load_seconds":        {"HISTOGRAM", nil},
		"indexer_cache_invalidations_total": {"COUNTER", []string{"epoch", "local", "process"}},
		"indexer_cache_evictions_total":     {"COUNTER", nil},
		"indexer_cache_entries":             {"GAUGE", nil},
		"indexer_cache_bytes":               {"GAUGE", nil},
		"indexer_http_not_modified_total":   {"COUNTER", nil},
		"indexer_db_connections_open":       {"GAUGE", []string{"read", "write"}},
		"indexer_db_connections_in_use":     {"GAUGE", []string{"read", "write"}},
		"indexer_db_connections_idle":       {"GAUGE", []string{"read", "write"}},
		"indexer_db_waits_total":            {"COUNTER", []string{"read", "write"}},
		"indexer_db_wait_seconds_total":     {"COUNTER", []string{"read", "write"}},
		"indexer_db_reopens_total":          {"COUNTER", nil},
		"indexer_scan_running":              {"GAUGE", nil},
		"go_goroutines":                     {"GAUGE", nil},
		"process_cpu_seconds_total":         {"COUNTER", nil},
		"process_resident_memory_bytes":     {"GAUGE", nil},
	}
	for name, w := range want {
		mf := fams[name]
		if mf == nil {
			t.Errorf("%s missing from /metrics", name)
			continue
		}
		if mf.GetType().String() != w.kind || mf.GetHelp() == "" {
			t.Errorf("%s: type %s, help %q; want %s with help", name, mf.GetType(), mf.GetHelp(), w.kind)
		}
		var values []string
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				values = append(values, l.GetValue())
			}
		}
		if len(values) != len(w.labels) {
			t.Errorf("%s: label values %v; want %v", name, values, w.labels)
			continue
		}
		for i := range values {
			if values[i] != w.labels[i] {
				t.Errorf("%s: label values %v; want %v", name, values, w.labels)
				break
			}
		}
	}
	req := fams["indexer_cache_requests_total"].GetMetric()
	if req[1].GetCounter().GetValue() != 1 || req[2].GetCounter().GetValue() != 1 {
		t.Errorf("requests fresh %v, miss %v; want 1 and 1 after two GET /api/dupes", req[1], req[2])
	}
	h := fams["indexer_cache_load_seconds"].GetMetric()[0].GetHistogram()
	b := h.GetBucket()
	if h.GetSampleCount() != 1 || len(b) != 11 || b[0].GetUpperBound() != 0.001 || !math.IsInf(b[10].GetUpperBound(), 1) || b[10].GetCumulativeCount() != 1 {
		t.Errorf("indexer_cache_load_seconds %v; want one load in 10 buckets from 1 ms and +Inf", h)
	}
}
