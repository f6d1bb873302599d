package web

import (
	"database/sql"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/indexer/indexer/internal/db"
)

// poolCollector reports the catalog's connection pools (db.DB.Stats) at
// each scrape.
type poolCollector struct {
	d                                     *db.DB
	open, inUse, idle, waits, waitSeconds *prometheus.Desc
	reopens                               *prometheus.Desc
}

var _ prometheus.Collector = (*poolCollector)(nil)

func newPoolCollector(d *db.DB) *poolCollector {
	pool := []string{"pool"}
	return &poolCollector{d: d,
		open:        prometheus.NewDesc("indexer_db_connections_open", "Connections the catalog's pool holds open, by pool: read or write.", pool, nil),
		inUse:       prometheus.NewDesc("indexer_db_connections_in_use", "Connections of the pool in use.", pool, nil),
		idle:        prometheus.NewDesc("indexer_db_connections_idle", "Connections of the pool idle.", pool, nil),
		waits:       prometheus.NewDesc("indexer_db_waits_total", "Times a query waited for a connection of the pool.", pool, nil),
		waitSeconds: prometheus.NewDesc("indexer_db_wait_seconds_total", "Time queries spent waiting for a connection of the pool.", pool, nil),
		reopens:     prometheus.NewDesc("indexer_db_reopens_total", "Times the pools were reopened on a catalog file that replaced the old (a restore).", nil, nil),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.open, c.inUse, c.idle, c.waits, c.waitSeconds, c.reopens} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.d.Stats()
	for _, p := range []struct {
		name string
		s    sql.DBStats
	}{{"read", st.Read}, {"write", st.Write}} {
		ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(p.s.OpenConnections), p.name)
		ch <- prometheus.MustNewConstMetric(c.inUse, prometheus.GaugeValue, float64(p.s.InUse), p.name)
		ch <- prometheus.MustNewConstMetric(c.idle, prometheus.GaugeValue, float64(p.s.Idle), p.name)
		ch <- prometheus.MustNewConstMetric(c.waits, prometheus.CounterValue, float64(p.s.WaitCount), p.name)
		ch <- prometheus.MustNewConstMetric(c.waitSeconds, prometheus.CounterValue, p.s.WaitDuration.Seconds(), p.name)
	}
	ch <- prometheus.MustNewConstMetric(c.reopens, prometheus.CounterValue, float64(st.Reopens))
}

// scanCollector reports the scan the server runs, if any: its counters
// while it runs, and 0 for indexer_scan_running when none does.
type scanCollector struct {
	m                                 *scans
	running, files, bytes, failed, id *prometheus.Desc
}

var _ prometheus.Collector = (*scanCollector)(nil)

func newScanCollector(m *scans) *scanCollector {
	return &scanCollector{m: m,
		running: prometheus.NewDesc("indexer_scan_running", "1 while a scan started through the server runs, else 0.", nil, nil),
		id:      prometheus.NewDesc("indexer_scan_id", "The running scan's id.", nil, nil),
		files:   prometheus.NewDesc("indexer_scan_files", "Regular files the running scan's walk has met.", nil, nil),
		bytes:   prometheus.NewDesc("indexer_scan_bytes_hashed", "Bytes the running scan has hashed.", nil, nil),
		failed:  prometheus.NewDesc("indexer_scan_failed_files", "Files the running scan could not index.", nil, nil),
	}
}

func (c *scanCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.running, c.id, c.files, c.bytes, c.failed} {
		ch <- d
	}
}

func (c *scanCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	j := c.m.running
	var p progressEvent
	if j != nil && j.id != 0 {
		p = j.snapshot()
	}
	c.m.mu.Unlock()
	if j == nil || p.ID == 0 {
		ch <- prometheus.MustNewConstMetric(c.running, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.running, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(c.id, prometheus.GaugeValue, float64(p.ID))
	ch <- prometheus.MustNewConstMetric(c.files, prometheus.GaugeValue, float64(p.Files))
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(p.Bytes))
	ch <- prometheus.MustNewConstMetric(c.failed, prometheus.GaugeValue, float64(p.Failed))
}
