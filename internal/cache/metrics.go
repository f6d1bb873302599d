package cache

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the cache's Prometheus series, and the counts behind HitRatio.
type metrics struct {
	requests      *prometheus.CounterVec
	loads         prometheus.Counter
	loadErrors    prometheus.Counter
	coalesced     prometheus.Counter
	loadSeconds   prometheus.Histogram
	invalidations *prometheus.CounterVec
	evictions     prometheus.Counter
	entries       prometheus.Gauge
	bytes         prometheus.Gauge

	hits, misses atomic.Int64
}

func newMetrics() *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "indexer_cache_requests_total",
			Help: "Requests to the query cache, by how they were answered: fresh, stale, miss or bypass.",
		}, []string{"result"}),
		loads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "indexer_cache_loads_total",
			Help: "Answers the query cache loaded from the catalog.",
		}),
		loadErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "indexer_cache_load_errors_total",
			Help: "Loads that failed; their errors went to every waiting request and nothing was stored.",
		}),
		coalesced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "indexer_cache_coalesced_total",
			Help: "Requests that waited for a load another request had started instead of starting their own.",
		}),
		loadSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "indexer_cache_load_seconds",
			Help:    "How long loads took.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10), // 1 ms to about 4 minutes
		}),
		invalidations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "indexer_cache_invalidations_total",
			Help: "Tag invalidations, by source: local (this process's writes), process (another process's) or epoch (everything).",
		}, []string{"source"}),
		evictions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "indexer_cache_evictions_total",
			Help: "Entries evicted, least recently used first, to keep within the size bound.",
		}),
		entries: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "indexer_cache_entries",
			Help: "Entries held.",
		}),
		bytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "indexer_cache_bytes",
			Help: "Approximate size of the entries held, in bytes.",
		}),
	}
	// Every label value exists from the start, so a dashboard sees zeros
	// rather than missing series.
	for _, r := range []Result{Fresh, Stale, Miss, Bypass} {
		m.requests.WithLabelValues(r.String())
	}
	for _, s := range []string{string(Local), string(Process), "epoch"} {
		m.invalidations.WithLabelValues(s)
	}
	return m
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.requests, m.loads, m.loadErrors, m.coalesced, m.loadSeconds,
		m.invalidations, m.evictions, m.entries, m.bytes}
}

func (m *metrics) request(r Result) {
	m.requests.WithLabelValues(r.String()).Inc()
	switch r {
	case Fresh, Stale:
		m.hits.Add(1)
	case Miss:
		m.misses.Add(1)
	}
}

func (m *metrics) load(d time.Duration, err error) {
	m.loads.Inc()
	m.loadSeconds.Observe(d.Seconds())
	if err != nil {
		m.loadErrors.Inc()
	}
}

// setSize is called with the cache's lock held, so the two gauges agree.
func (m *metrics) setSize(entries int, bytes int64) {
	m.entries.Set(float64(entries))
	m.bytes.Set(float64(bytes))
}

func (m *metrics) hitRatio() float64 {
	h, mi := m.hits.Load(), m.misses.Load()
	if h+mi == 0 {
		return 0
	}
	return float64(h) / float64(h+mi)
}

var _ prometheus.Collector = (*Cache)(nil)

// Describe implements prometheus.Collector: a Cache is registered as one
// collector of all its series.
func (c *Cache) Describe(ch chan<- *prometheus.Desc) {
	for _, col := range c.m.collectors() {
		col.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (c *Cache) Collect(ch chan<- prometheus.Metric) {
	for _, col := range c.m.collectors() {
		col.Collect(ch)
	}
}
