package metrics

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// ContentType is the media type of the text exposition format, version
// 0.0.4.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Registry holds the collectors a /metrics endpoint exposes.
type Registry struct {
	mu         sync.Mutex
	collectors []Collector
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{} }

// Register adds collectors.
func (r *Registry) Register(cs ...Collector) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.collectors = append(r.collectors, cs...)
}

// Gather collects every family, sorted by name, each family's series
// sorted by their labels. Two collectors giving the same name, or a
// family with two series of the same labels, are an error.
func (r *Registry) Gather() ([]Family, error) {
	r.mu.Lock()
	cs := slices.Clone(r.collectors)
	r.mu.Unlock()
	var all []Family
	for _, c := range cs {
		fs, err := c.Collect()
		if err != nil {
			return nil, err
		}
		all = append(all, fs...)
	}
	slices.SortFunc(all, func(a, b Family) int { return strings.Compare(a.Name, b.Name) })
	for i := range all {
		f := &all[i]
		if i > 0 && all[i-1].Name == f.Name {
			return nil, fmt.Errorf("metric %s is collected twice", f.Name)
		}
		f.Series = slices.Clone(f.Series)
		slices.SortFunc(f.Series, func(a, b Series) int { return compareLabels(a.Labels, b.Labels) })
		for j := 1; j < len(f.Series); j++ {
			if compareLabels(f.Series[j-1].Labels, f.Series[j].Labels) == 0 {
				return nil, fmt.Errorf("metric %s has two series with the labels %v", f.Name, f.Series[j].Labels)
			}
		}
	}
	return all, nil
}

func compareLabels(a, b []Label) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := cmp.Or(strings.Compare(a[i].Name, b[i].Name), strings.Compare(a[i].Value, b[i].Value)); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

// WriteText writes every family in the text exposition format.
func (r *Registry) WriteText(w io.Writer) error {
	fs, err := r.Gather()
	if err != nil {
		return err
	}
	return WriteText(w, fs)
}

// Handler serves the registry in the text format. A collection that fails
// is answered 500, and logged to log.
func (r *Registry) Handler(log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var buf bytes.Buffer
		if err := r.WriteText(&buf); err != nil {
			log.Error("metrics: collect", "err", err)
			http.Error(w, "collect the metrics: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", ContentType)
		w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
		w.Write(buf.Bytes())
	})
}

// WriteText writes families, in the order given, in the text exposition
// format: # HELP and # TYPE, then one line per sample; a histogram's
// samples are its _bucket lines (le ending at +Inf), _sum and _count.
func WriteText(w io.Writer, fs []Family) error {
	bw := bufio.NewWriter(w)
	var line []byte
	for _, f := range fs {
		line = append(line[:0], "# HELP "...)
		line = append(line, f.Name...)
		line = append(line, ' ')
		line = appendEscaped(line, f.Help, false)
		line = append(line, "\n# TYPE "...)
		line = append(line, f.Name...)
		line = append(line, ' ')
		line = append(line, f.Kind...)
		line = append(line, '\n')
		for _, s := range f.Series {
			if f.Kind != KindHistogram {
				line = appendSample(line, f.Name, s.Labels, nil, s.Value)
				continue
			}
			h := s.Histogram
			if h == nil {
				return fmt.Errorf("histogram %s has a series without buckets", f.Name)
			}
			for i, b := range h.Bounds {
				line = appendSample(line, f.Name+"_bucket", s.Labels, &Label{"le", formatFloat(b)}, float64(h.Counts[i]))
			}
			line = appendSample(line, f.Name+"_bucket", s.Labels, &Label{"le", "+Inf"}, float64(h.Count))
			line = appendSample(line, f.Name+"_sum", s.Labels, nil, h.Sum)
			line = appendSample(line, f.Name+"_count", s.Labels, nil, float64(h.Count))
		}
		if _, err := bw.Write(line); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func appendSample(b []byte, name string, labels []Label, extra *Label, v float64) []byte {
	b = append(b, name...)
	if len(labels) > 0 || extra != nil {
		b = append(b, '{')
		for i, l := range labels {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendLabel(b, l)
		}
		if extra != nil {
			if len(labels) > 0 {
				b = append(b, ',')
			}
			b = appendLabel(b, *extra)
		}
		b = append(b, '}')
	}
	b = append(b, ' ')
	b = append(b, formatFloat(v)...)
	return append(b, '\n')
}

func appendLabel(b []byte, l Label) []byte {
	b = append(b, l.Name...)
	b = append(b, `="`...)
	b = appendEscaped(b, l.Value, true)
	return append(b, '"')
}

// appendEscaped escapes backslash and newline, and in label values the
// double quote too, as the format asks.
func appendEscaped(b []byte, s string, quote bool) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '"' && quote:
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// formatFloat writes v as the format reads it: +Inf, -Inf, NaN, or Go's
// shortest representation.
func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
