package metrics

import (
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func text(t *testing.T, cs ...Collector) string {
	t.Helper()
	r := NewRegistry()
	r.Register(cs...)
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func golden(t *testing.T, got, want string) {
	t.Helper()
	want = strings.TrimPrefix(want, "\n")
	if got != want {
		t.Errorf("exposition:\n%s\nwant:\n%s", got, want)
	}
}

func TestCounterText(t *testing.T) {
	c := NewCounter("jobs_total", "Jobs done.")
	c.Inc()
	c.Add(2.5)
	golden(t, text(t, c), `
# HELP jobs_total Jobs done.
# TYPE jobs_total counter
jobs_total 3.5
`)
}

func TestCounterRefusesToDecrease(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Add(-1) on a counter did not panic")
		}
	}()
	NewCounter("c_total", "").Add(-1)
}

func TestGaugeText(t *testing.T) {
	g := NewGauge("temperature", "Degrees.")
	g.Set(20)
	g.Add(-21.25)
	f := NewGaugeFunc("answer", "Asked at each scrape.", func() float64 { return 42 })
	big := NewGauge("big", "Large numbers in Go's shortest form.")
	big.Set(1e6)
	golden(t, text(t, g, f, big), `
# HELP answer Asked at each scrape.
# TYPE answer gauge
answer 42
# HELP big Large numbers in Go's shortest form.
# TYPE big gauge
big 1e+06
# HELP temperature Degrees.
# TYPE temperature gauge
temperature -1.25
`)
}

func TestSpecialValues(t *testing.T) {
	g1, g2, g3 := NewGauge("a", "h"), NewGauge("b", "h"), NewGauge("c", "h")
	g1.Set(math.Inf(1))
	g2.Set(math.Inf(-1))
	g3.Set(math.NaN())
	golden(t, text(t, g1, g2, g3), `
# HELP a h
# TYPE a gauge
a +Inf
# HELP b h
# TYPE b gauge
b -Inf
# HELP c h
# TYPE c gauge
c NaN
`)
}

// TestCounterVecText: series sorted by label value, zeros for values made
// but never counted.
func TestCounterVecText(t *testing.T) {
	v := NewCounterVec("requests_total", "Requests, by result.", "result")
	v.With("miss").Inc()
	v.With("fresh").Add(3)
	v.With("bypass")
	golden(t, text(t, v), `
# HELP requests_total Requests, by result.
# TYPE requests_total counter
requests_total{result="bypass"} 0
requests_total{result="fresh"} 3
requests_total{result="miss"} 1
`)
}

// TestHistogramText: cumulative buckets, a value on a bound counted in
// that bound's bucket, the +Inf bucket equal to the count.
func TestHistogramText(t *testing.T) {
	h := NewHistogram("load_seconds", "Load times.", ExponentialBuckets(0.25, 4, 3))
	for _, v := range []float64{0.1, 0.25, 0.3, 2, 5, 100} {
		h.Observe(v)
	}
	golden(t, text(t, h), `
# HELP load_seconds Load times.
# TYPE load_seconds histogram
load_seconds_bucket{le="0.25"} 2
load_seconds_bucket{le="1"} 3
load_seconds_bucket{le="4"} 4
load_seconds_bucket{le="+Inf"} 6
load_seconds_sum 107.65
load_seconds_count 6
`)
}

func TestHistogramWithLabels(t *testing.T) {
	f := Family{Name: "h", Help: "x", Kind: KindHistogram, Series: []Series{{
		Labels:    []Label{{"pool", "read"}},
		Histogram: &HistogramValue{Bounds: []float64{1}, Counts: []uint64{1}, Sum: 3, Count: 2},
	}}}
	var b strings.Builder
	if err := WriteText(&b, []Family{f}); err != nil {
		t.Fatal(err)
	}
	golden(t, b.String(), `
# HELP h x
# TYPE h histogram
h_bucket{pool="read",le="1"} 1
h_bucket{pool="read",le="+Inf"} 2
h_sum{pool="read"} 3
h_count{pool="read"} 2
`)
}

// TestEscaping: backslash, double quote and newline in label values;
// backslash and newline in help (where a quote stays as it is).
func TestEscaping(t *testing.T) {
	v := NewCounterVec("paths_total", "Paths seen, \"quoted\" \\ and\nsplit.", "path")
	v.With(`C:\dir "x"` + "\nnext").Inc()
	golden(t, text(t, v), `
# HELP paths_total Paths seen, "quoted" \\ and\nsplit.
# TYPE paths_total counter
paths_total{path="C:\\dir \"x\"\nnext"} 1
`)
}

func TestBadNamesPanic(t *testing.T) {
	for _, mk := range []func(){
		func() { NewCounter("1st", "") },
		func() { NewGauge("has-dash", "") },
		func() { NewCounterVec("ok_total", "", "le") },
		func() { NewCounterVec("ok_total", "", "__reserved") },
		func() { NewCounterVec("ok_total", "", "a:b") },
		func() { NewHistogram("h", "", []float64{2, 1}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("a bad name or bound did not panic")
				}
			}()
			mk()
		}()
	}
}

func TestGatherRefusesDuplicates(t *testing.T) {
	r := NewRegistry()
	r.Register(NewCounter("x_total", ""), NewCounter("x_total", ""))
	if _, err := r.Gather(); err == nil || !strings.Contains(err.Error(), "x_total") {
		t.Errorf("Gather of a name registered twice: %v; want an error naming it", err)
	}
	r = NewRegistry()
	r.Register(CollectorFunc(func() ([]Family, error) {
		return []Family{{Name: "y", Kind: KindGauge, Series: []Series{{Labels: []Label{{"a", "1"}}}, {Labels: []Label{{"a", "1"}}}}}}, nil
	}))
	if _, err := r.Gather(); err == nil {
		t.Error("Gather of two series with the same labels gave no error")
	}
}

// TestHandler: the content type of the 0.0.4 text format, and a failed
// collection answered 500.
func TestHandler(t *testing.T) {
	r := NewRegistry()
	r.Register(NewCounter("a_total", "A."))
	rec := httptest.NewRecorder()
	var logged strings.Builder
	log := slog.New(slog.NewTextHandler(&logged, nil))
	r.Handler(log).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/plain; version=0.0.4; charset=utf-8" {
		t.Errorf("GET /metrics: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	golden(t, rec.Body.String(), "\n# HELP a_total A.\n# TYPE a_total counter\na_total 0\n")

	r.Register(CollectorFunc(func() ([]Family, error) { return nil, fmt.Errorf("disk gone") }))
	rec = httptest.NewRecorder()
	r.Handler(log).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "disk gone") {
		t.Errorf("GET /metrics with a failing collector: %d %q; want 500 naming the cause", rec.Code, rec.Body.String())
	}
	if !strings.Contains(logged.String(), "disk gone") {
		t.Errorf("log %q; want the failure", logged.String())
	}
}

// TestConcurrentUpdates: updates from many goroutines while scrapes run
// lose nothing (and race nothing, under -race).
func TestConcurrentUpdates(t *testing.T) {
	c := NewCounter("c_total", "")
	g := NewGauge("g", "")
	v := NewCounterVec("v_total", "", "k")
	h := NewHistogram("h", "", []float64{1, 2})
	r := NewRegistry()
	r.Register(c, g, v, h)
	const workers, each = 8, 1000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				c.Inc()
				g.Add(1)
				v.With(fmt.Sprint(i % 3)).Inc()
				h.Observe(float64(w % 3))
			}
		}()
	}
	for range 20 {
		if err := r.WriteText(&strings.Builder{}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if c.Value() != workers*each || g.Value() != workers*each {
		t.Errorf("counter %v, gauge %v; want %d", c.Value(), g.Value(), workers*each)
	}
	if got := v.With("0").Value() + v.With("1").Value() + v.With("2").Value(); got != workers*each {
		t.Errorf("vector total %v; want %d", got, workers*each)
	}
	s := h.Snapshot()
	if s.Count != workers*each || s.Counts[len(s.Counts)-1] > s.Count {
		t.Errorf("histogram %+v; want a count of %d", s, workers*each)
	}
}

// TestParsesWithReferenceParser: the whole exposition, runtime and process
// families included, is read by Prometheus's own parser with the values
// written.
func TestParsesWithReferenceParser(t *testing.T) {
	v := NewCounterVec("esc_total", "Escapes \\ and\nnewlines.", "v")
	v.With("a\\b\"c\nd").Add(2)
	h := NewHistogram("h_seconds", "H.", []float64{0.5, 1})
	h.Observe(0.7)
	out := text(t, v, h, GoCollector(), ProcessCollector())
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(out))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, out)
	}
	e := fams["esc_total"]
	if e == nil || e.GetHelp() != "Escapes \\ and\nnewlines." || e.Metric[0].Label[0].GetValue() != "a\\b\"c\nd" || e.Metric[0].Counter.GetValue() != 2 {
		t.Errorf("esc_total parsed as %v", e)
	}
	hh := fams["h_seconds"].GetMetric()[0].GetHistogram()
	if hh.GetSampleCount() != 1 || hh.GetSampleSum() != 0.7 || hh.Bucket[0].GetCumulativeCount() != 0 || hh.Bucket[1].GetCumulativeCount() != 1 {
		t.Errorf("h_seconds parsed as %v", hh)
	}
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total",
		"process_resident_memory_bytes", "process_open_fds"} {
		f := fams[name]
		if f == nil {
			t.Errorf("%s missing", name)
			continue
		}
		m := f.GetMetric()[0]
		if m.GetGauge().GetValue()+m.GetCounter().GetValue() <= 0 {
			t.Errorf("%s = %v; want above 0", name, m)
		}
	}
}
