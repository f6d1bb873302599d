package metrics

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Kind is a family's type, as the # TYPE line names it.
type Kind string

// The kinds this package writes.
const (
	KindCounter   Kind = "counter"
	KindGauge     Kind = "gauge"
	KindHistogram Kind = "histogram"
)

// Label is one label pair of a series.
type Label struct {
	Name, Value string
}

// Series is one sample of a family: Value for counters and gauges,
// Histogram for histograms.
type Series struct {
	Labels    []Label
	Value     float64
	Histogram *HistogramValue
}

// HistogramValue is a histogram's state at one moment. Counts[i] is the
// number of observations at most Bounds[i] (cumulative, as exposed); the
// +Inf bucket is Count.
type HistogramValue struct {
	Bounds []float64
	Counts []uint64
	Sum    float64
	Count  uint64
}

// Family is every series of one metric name.
type Family struct {
	Name   string
	Help   string
	Kind   Kind
	Series []Series
}

// Collector gives its families at each scrape.
type Collector interface {
	Collect() ([]Family, error)
}

// CollectorFunc is a function that is a Collector.
type CollectorFunc func() ([]Family, error)

// Collect calls f.
func (f CollectorFunc) Collect() ([]Family, error) { return f() }

// validName reports whether s is a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*),
// or, without colons, a label name.
func validName(s string, colons bool) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
		case r == ':' && colons:
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// checkName panics on a metric or label name the format does not allow:
// names are constants of the program, so a bad one is a programming error.
func checkName(name string, labels ...string) {
	if !validName(name, true) {
		panic(fmt.Sprintf("metrics: invalid metric name %q", name))
	}
	for _, l := range labels {
		if !validName(l, false) || strings.HasPrefix(l, "__") || l == "le" {
			panic(fmt.Sprintf("metrics: invalid label name %q of %s", l, name))
		}
	}
}

// value is a float64 updated atomically.
type value struct{ bits atomic.Uint64 }

func (v *value) load() float64 { return math.Float64frombits(v.bits.Load()) }

func (v *value) store(f float64) { v.bits.Store(math.Float64bits(f)) }

func (v *value) add(f float64) {
	for {
		old := v.bits.Load()
		if v.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+f)) {
			return
		}
	}
}

// Counter is a value that only goes up.
type Counter struct {
	name, help string
	v          value
}

// NewCounter returns a counter at 0.
func NewCounter(name, help string) *Counter {
	checkName(name)
	return &Counter{name: name, help: help}
}

// Inc adds 1.
func (c *Counter) Inc() { c.v.add(1) }

// Add adds d, which must not be negative.
func (c *Counter) Add(d float64) {
	if d < 0 {
		panic(fmt.Sprintf("metrics: counter %s decreased by %v", c.name, d))
	}
	c.v.add(d)
}

// Value returns the count.
func (c *Counter) Value() float64 { return c.v.load() }

// Collect implements Collector.
func (c *Counter) Collect() ([]Family, error) {
	return []Family{{Name: c.name, Help: c.help, Kind: KindCounter, Series: []Series{{Value: c.Value()}}}}, nil
}

// Gauge is a value that goes up and down.
type Gauge struct {
	name, help string
	v          value
}

// NewGauge returns a gauge at 0.
func NewGauge(name, help string) *Gauge {
	checkName(name)
	return &Gauge{name: name, help: help}
}

// Set sets the value.
func (g *Gauge) Set(f float64) { g.v.store(f) }

// Add adds d (negative to lower it).
func (g *Gauge) Add(d float64) { g.v.add(d) }

// Value returns the value.
func (g *Gauge) Value() float64 { return g.v.load() }

// Collect implements Collector.
func (g *Gauge) Collect() ([]Family, error) {
	return []Family{{Name: g.name, Help: g.help, Kind: KindGauge, Series: []Series{{Value: g.Value()}}}}, nil
}

// GaugeFunc is a gauge whose value a function gives at each scrape.
type GaugeFunc struct {
	name, help string
	f          func() float64
}

// NewGaugeFunc returns a gauge read from f, which must be safe to call
// from any goroutine.
func NewGaugeFunc(name, help string, f func() float64) *GaugeFunc {
	checkName(name)
	return &GaugeFunc{name: name, help: help, f: f}
}

// Collect implements Collector.
func (g *GaugeFunc) Collect() ([]Family, error) {
	return []Family{{Name: g.name, Help: g.help, Kind: KindGauge, Series: []Series{{Value: g.f()}}}}, nil
}

// CounterVec is counters of one name told apart by the value of one label.
type CounterVec struct {
	name, help, label string
	mu                sync.RWMutex
	byValue           map[string]*Counter
}

// NewCounterVec returns a vector with no series yet; With makes them.
func NewCounterVec(name, help, label string) *CounterVec {
	checkName(name, label)
	return &CounterVec{name: name, help: help, label: label, byValue: map[string]*Counter{}}
}

// With returns the counter of the label value v, making it at 0 the first
// time.
func (cv *CounterVec) With(v string) *Counter {
	cv.mu.RLock()
	c := cv.byValue[v]
	cv.mu.RUnlock()
	if c != nil {
		return c
	}
	cv.mu.Lock()
	defer cv.mu.Unlock()
	if c = cv.byValue[v]; c == nil {
		c = &Counter{name: cv.name}
		cv.byValue[v] = c
	}
	return c
}

// Collect implements Collector.
func (cv *CounterVec) Collect() ([]Family, error) {
	cv.mu.RLock()
	defer cv.mu.RUnlock()
	f := Family{Name: cv.name, Help: cv.help, Kind: KindCounter}
	for v, c := range cv.byValue {
		f.Series = append(f.Series, Series{Labels: []Label{{cv.label, v}}, Value: c.Value()})
	}
	return []Family{f}, nil
}

// Histogram counts observations in buckets by upper bound.
type Histogram struct {
	name, help string
	bounds     []float64
	mu         sync.Mutex // so that a scrape sees counts, sum and count agree
	counts     []uint64   // per bucket, not cumulative; the last is +Inf
	sum        float64
	count      uint64
}

// NewHistogram returns an empty histogram with the given upper bounds,
// which must rise strictly; the +Inf bucket is implied.
func NewHistogram(name, help string, bounds []float64) *Histogram {
	checkName(name)
	for i, b := range bounds {
		if math.IsNaN(b) || math.IsInf(b, 0) || (i > 0 && b <= bounds[i-1]) {
			panic(fmt.Sprintf("metrics: histogram %s: bounds %v do not rise strictly through finite numbers", name, bounds))
		}
	}
	return &Histogram{name: name, help: help, bounds: append([]float64(nil), bounds...), counts: make([]uint64, len(bounds)+1)}
}

// ExponentialBuckets returns n bounds, the first start, each factor times
// the one before.
func ExponentialBuckets(start, factor float64, n int) []float64 {
	if start <= 0 || factor <= 1 || n < 1 {
		panic(fmt.Sprintf("metrics: exponential buckets from %v by %v, %d of them: want start > 0, factor > 1, n >= 1", start, factor, n))
	}
	b := make([]float64, n)
	for i := range b {
		b[i] = start
		start *= factor
	}
	return b
}

// Observe records v.
func (h *Histogram) Observe(v float64) {
	i := sort.SearchFloat64s(h.bounds, v) // first bound >= v: v falls in the bucket le="bound"
	h.mu.Lock()
	h.counts[i]++
	h.sum += v
	h.count++
	h.mu.Unlock()
}

// Snapshot returns the histogram's state, with cumulative counts.
func (h *Histogram) Snapshot() HistogramValue {
	h.mu.Lock()
	defer h.mu.Unlock()
	hv := HistogramValue{Bounds: h.bounds, Counts: make([]uint64, len(h.bounds)), Sum: h.sum, Count: h.count}
	var run uint64
	for i := range h.bounds {
		run += h.counts[i]
		hv.Counts[i] = run
	}
	return hv
}

// Collect implements Collector.
func (h *Histogram) Collect() ([]Family, error) {
	hv := h.Snapshot()
	return []Family{{Name: h.name, Help: h.help, Kind: KindHistogram, Series: []Series{{Histogram: &hv}}}}, nil
}
