package cache

import (
	"sync/atomic"
	"time"

	"github.com/indexer/indexer/internal/metrics"
)

// series are the cache's series for /metrics, and the counts behind HitRatio.
type series struct {
	requests      *metrics.CounterVec
	loads         *metrics.Counter
	loadErrors    *metrics.Counter
	coalesced     *metrics.Counter
	loadSeconds   *metrics.Histogram
	invalidations *metrics.CounterVec
	evictions     *metrics.Counter
	entries       *metrics.Gauge
	bytes         *metrics.Gauge

	hits, misses atomic.Int64
}

func newMetrics() *series {
	m := &series{
		requests: metrics.NewCounterVec("indexer_cache_requests_total",
			"Requests to the query cache, by how they were answered: fresh, stale, miss or bypass.", "result"),
		loads: metrics.NewCounter("indexer_cache_loads_total",
			"Answers the query cache loaded from the catalog."),
		loadErrors: metrics.NewCounter("indexer_cache_load_errors_total",
			"Loads that failed; their errors went to every waiting request and nothing was stored."),
		coalesced: metrics.NewCounter("indexer_cache_coalesced_total",
			"Requests that waited for a load another request had started instead of starting their own."),
		loadSeconds: metrics.NewHistogram("indexer_cache_load_seconds", "How long loads took.",
			metrics.ExponentialBuckets(0.001, 4, 10)), // 1 ms to about 4 minutes
		invalidations: metrics.NewCounterVec("indexer_cache_invalidations_total",
			"Tag invalidations, by source: local (this process's writes), process (another process's) or epoch (everything).", "source"),
		evictions: metrics.NewCounter("indexer_cache_evictions_total",
			"Entries evicted, least recently used first, to keep within the size bound."),
		entries: metrics.NewGauge("indexer_cache_entries",
			"Entries held."),
		bytes: metrics.NewGauge("indexer_cache_bytes",
			"Approximate size of the entries held, in bytes."),
	}
	// Every label value exists from the start, so a dashboard sees zeros
	// rather than missing series.
	for _, r := range []Result{Fresh, Stale, Miss, Bypass} {
		m.requests.With(r.String())
	}
	for _, s := range []string{string(Local), string(Process), "epoch"} {
		m.invalidations.With(s)
	}
	return m
}

func (m *series) request(r Result) {
	m.requests.With(r.String()).Inc()
	switch r {
	case Fresh, Stale:
		m.hits.Add(1)
	case Miss:
		m.misses.Add(1)
	}
}

func (m *series) load(d time.Duration, err error) {
	m.loads.Inc()
	m.loadSeconds.Observe(d.Seconds())
	if err != nil {
		m.loadErrors.Inc()
	}
}

// setSize is called with the cache's lock held, so the two gauges agree.
func (m *series) setSize(entries int, bytes int64) {
	m.entries.Set(float64(entries))
	m.bytes.Set(float64(bytes))
}

func (m *series) hitRatio() float64 {
	h, mi := m.hits.Load(), m.misses.Load()
	if h+mi == 0 {
		return 0
	}
	return float64(h) / float64(h+mi)
}

var _ metrics.Collector = (*Cache)(nil)

// Collect implements metrics.Collector: a Cache is registered as one
// collector of all its series.
func (c *Cache) Collect() ([]metrics.Family, error) {
	m := c.m
	var all []metrics.Family
	for _, col := range []metrics.Collector{m.requests, m.loads, m.loadErrors, m.coalesced, m.loadSeconds,
		m.invalidations, m.evictions, m.entries, m.bytes} {
		fs, err := col.Collect()
		if err != nil {
			return nil, err
		}
		all = append(all, fs...)
	}
	return all, nil
}
