package web

import (
	"database/sql"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/metrics"
)

// poolCollector reports the catalog's connection pools (db.DB.Stats) at
// each scrape.
type poolCollector struct {
	d *db.DB
}

var _ metrics.Collector = (*poolCollector)(nil)

func newPoolCollector(d *db.DB) *poolCollector { return &poolCollector{d: d} }

func (c *poolCollector) Collect() ([]metrics.Family, error) {
	st := c.d.Stats()
	fs := []metrics.Family{
		{Name: "indexer_db_connections_open", Help: "Connections the catalog's pool holds open, by pool: read or write.", Kind: metrics.KindGauge},
		{Name: "indexer_db_connections_in_use", Help: "Connections of the pool in use.", Kind: metrics.KindGauge},
		{Name: "indexer_db_connections_idle", Help: "Connections of the pool idle.", Kind: metrics.KindGauge},
		{Name: "indexer_db_waits_total", Help: "Times a query waited for a connection of the pool.", Kind: metrics.KindCounter},
		{Name: "indexer_db_wait_seconds_total", Help: "Time queries spent waiting for a connection of the pool.", Kind: metrics.KindCounter},
	}
	for _, p := range []struct {
		name string
		s    sql.DBStats
	}{{"read", st.Read}, {"write", st.Write}} {
		pool := []metrics.Label{{Name: "pool", Value: p.name}}
		for i, v := range []float64{float64(p.s.OpenConnections), float64(p.s.InUse), float64(p.s.Idle),
			float64(p.s.WaitCount), p.s.WaitDuration.Seconds()} {
			fs[i].Series = append(fs[i].Series, metrics.Series{Labels: pool, Value: v})
		}
	}
	return append(fs, metrics.Family{Name: "indexer_db_reopens_total",
		Help: "Times the pools were reopened on a catalog file that replaced the old (a restore).", Kind: metrics.KindCounter,
		Series: []metrics.Series{{Value: float64(st.Reopens)}}}), nil
}

// scanCollector reports the scan the server runs, if any: its counters
// while it runs, and 0 for indexer_scan_running when none does.
type scanCollector struct {
	m *scans
}

var _ metrics.Collector = (*scanCollector)(nil)

func newScanCollector(m *scans) *scanCollector { return &scanCollector{m: m} }

func (c *scanCollector) Collect() ([]metrics.Family, error) {
	c.m.mu.Lock()
	j := c.m.running
	var p progressEvent
	if j != nil && j.id != 0 {
		p = j.snapshot()
	}
	c.m.mu.Unlock()
	gauge := func(name, help string, v float64) metrics.Family {
		return metrics.Family{Name: name, Help: help, Kind: metrics.KindGauge, Series: []metrics.Series{{Value: v}}}
	}
	const running = "1 while a scan started through the server runs, else 0."
	if j == nil || p.ID == 0 {
		return []metrics.Family{gauge("indexer_scan_running", running, 0)}, nil
	}
	return []metrics.Family{
		gauge("indexer_scan_running", running, 1),
		gauge("indexer_scan_id", "The running scan's id.", float64(p.ID)),
		gauge("indexer_scan_files", "Regular files the running scan's walk has met.", float64(p.Files)),
		gauge("indexer_scan_bytes_hashed", "Bytes the running scan has hashed.", float64(p.Bytes)),
		gauge("indexer_scan_failed_files", "Files the running scan could not index.", float64(p.Failed)),
	}, nil
}
