package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/indexer/indexer/internal/dto"
)

// guard bounds waits that would hang if the cache lost a wake-up; it is a
// deadlock detector, not a timing assertion.
const guard = 30 * time.Second

// clock is a clock the test moves by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newCache returns a cache on clk with TTL 30s, SWR 60s, empty TTL 5s and
// jitter 10%, whose jitter draws r; it is closed when the test ends.
func newCache(t *testing.T, clk *clock, r float64, edit ...func(*Options)) *Cache {
	t.Helper()
	o := DefaultOptions()
	o.Now = clk.Now
	o.Rand = func() float64 { return r }
	for _, e := range edit {
		e(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// loader counts its calls and answers "NAME-N" for the Nth.
type loader struct {
	name  string
	calls atomic.Int64
	empty bool
}

func (l *loader) load(context.Context) ([]byte, bool, error) {
	n := l.calls.Add(1)
	return fmt.Appendf(nil, "%s-%d", l.name, n), l.empty, nil
}

func get(t *testing.T, c *Cache, req Request, load Load) Answer {
	t.Helper()
	a, err := c.Get(t.Context(), req, load)
	if err != nil {
		t.Fatalf("Get(%s) = %v", req.Key, err)
	}
	return a
}

func expect(t *testing.T, a Answer, data string, res Result) {
	t.Helper()
	if string(a.Data) != data || a.Result != res {
		t.Errorf("answer %q (%v); want %q (%v)", a.Data, a.Result, data, res)
	}
}

func counter(t *testing.T, c prometheus.Collector) int {
	t.Helper()
	return int(testutil.ToFloat64(c))
}

func TestEpochTagIsDTOs(t *testing.T) {
	if Epoch != dto.TagEpoch {
		t.Errorf("cache.Epoch = %q, dto.TagEpoch = %q: writers and the cache must agree", Epoch, dto.TagEpoch)
	}
}

func TestTTLAndJitterBounds(t *testing.T) {
	const ttl = 30 * time.Second
	tests := []struct {
		name string
		r    float64
		life time.Duration // how long the entry is fresh
	}{
		{"lowest draw", 0, ttl * 9 / 10},
		{"middle draw", 0.5, ttl},
		{"highest draw", 0.999999, ttl * 11 / 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			c := newCache(t, clk, tt.r)
			l := &loader{name: "v"}
			req := Request{Key: "k", Tags: []string{"files"}}
			expect(t, get(t, c, req, l.load), "v-1", Miss)
			clk.Advance(tt.life - time.Millisecond)
			expect(t, get(t, c, req, l.load), "v-1", Fresh)
			clk.Advance(2 * time.Millisecond)
			a := get(t, c, req, l.load)
			if a.Result != Stale {
				t.Errorf("at %v past the load: %v; want stale", tt.life+time.Millisecond, a.Result)
			}
		})
	}
}

// TestJitterSpreads draws from the real random source: every lifetime lies
// within ±10% of the TTL, and they are not all the same.
func TestJitterSpreads(t *testing.T) {
	o := DefaultOptions()
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	seen := map[time.Duration]bool{}
	for range 1000 {
		d := c.jitter(o.TTL)
		if d < o.TTL*9/10 || d > o.TTL*11/10 {
			t.Fatalf("jittered TTL %v is outside [27s, 33s]", d)
		}
		seen[d] = true
	}
	if len(seen) < 100 {
		t.Errorf("1000 draws gave %d distinct TTLs; want them spread", len(seen))
	}
}

func TestRequestTTLOverrides(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, 0.5)
	l := &loader{name: "v"}
	req := Request{Key: "k", TTL: time.Second, SWR: time.Second}
	get(t, c, req, l.load)
	clk.Advance(1500 * time.Millisecond)
	if a := get(t, c, req, l.load); a.Result != Stale {
		t.Errorf("1.5s after with TTL 1s, SWR 1s: %v; want stale", a.Result)
	}
	// The stale answer started a refresh; once it is stored, the refreshed
	// entry is fresh, and past its own TTL and SWR a request misses.
	waitFor(t, "the refresh to be stored", func() bool { return get(t, c, req, l.load).Result == Fresh })
	clk.Advance(2100 * time.Millisecond)
	if a := get(t, c, req, l.load); a.Result != Miss {
		t.Errorf("2.1s after the refresh, with TTL 1s and SWR 1s: %v; want miss", a.Result)
	}
}

// waitFor polls cond until it holds, failing after guard.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(guard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestStaleServedThenRefreshedOnce(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, 0.5)
	release := make(chan struct{})
	var calls atomic.Int64
	load := func(context.Context) ([]byte, bool, error) {
		n := calls.Add(1)
		if n > 1 {
			<-release // hold the refresh until the stale requests are done
		}
		return fmt.Appendf(nil, "v-%d", n), false, nil
	}
	req := Request{Key: "k", Tags: []string{"files"}}
	expect(t, get(t, c, req, load), "v-1", Miss)
	clk.Advance(31 * time.Second)
	for range 20 {
		expect(t, get(t, c, req, load), "v-1", Stale)
	}
	waitFor(t, "the refresh to start", func() bool { return calls.Load() == 2 })
	close(release)
	waitFor(t, "the refresh to end", func() bool { return len(c.refresh) == 0 })
	expect(t, get(t, c, req, load), "v-2", Fresh)
	if n := calls.Load(); n != 2 {
		t.Errorf("%d loads; want 2: the first and one refresh for twenty stale requests", n)
	}
	if got := counter(t, c.m.requests.WithLabelValues("stale")); got != 20 {
		t.Errorf("stale requests counted %d; want 20", got)
	}
}

func TestRefreshesBounded(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, 0.5, func(o *Options) { o.MaxRefreshes = 2 })
	release := make(chan struct{})
	var calls atomic.Int64
	var refreshing atomic.Bool
	load := func(context.Context) ([]byte, bool, error) {
		calls.Add(1)
		if refreshing.Load() {
			<-release
		}
		return []byte("v"), false, nil
	}
	for i := range 5 {
		get(t, c, Request{Key: fmt.Sprint(i)}, load)
	}
	refreshing.Store(true)
	clk.Advance(31 * time.Second)
	for i := range 5 {
		if a := get(t, c, Request{Key: fmt.Sprint(i)}, load); a.Result != Stale {
			t.Fatalf("key %d: %v; want stale", i, a.Result)
		}
	}
	waitFor(t, "two refreshes", func() bool { return calls.Load() == 7 })
	// The three others found no free slot; they are tried again later.
	for i := range 5 {
		get(t, c, Request{Key: fmt.Sprint(i)}, load)
	}
	if n := calls.Load(); n != 7 {
		t.Errorf("%d loads while two refreshes held both slots; want 7", n)
	}
	close(release)
	c.Close()
	if n := len(c.refresh); n != 0 {
		t.Errorf("%d refresh slots still taken after Close", n)
	}
}

func TestPastStaleWindowIsMiss(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, 0.5)
	l := &loader{name: "v"}
	req := Request{Key: "k"}
	get(t, c, req, l.load)
	clk.Advance(30*time.Second + 60*time.Second + time.Millisecond)
	expect(t, get(t, c, req, l.load), "v-2", Miss)
}

func TestEmptyAnswerTTL(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, 0.999999)
	l := &loader{name: "none", empty: true}
	req := Request{Key: "k"}
	a := get(t, c, req, l.load)
	if !a.Empty || a.Result != Miss {
		t.Fatalf("answer %+v; want an empty miss", a)
	}
	clk.Advance(5*time.Second*11/10 - time.Millisecond)
	expect(t, get(t, c, req, l.load), "none-1", Fresh)
	// No stale window for an empty answer: just past its TTL it is loaded.
	clk.Advance(2 * time.Millisecond)
	expect(t, get(t, c, req, l.load), "none-2", Miss)
}

func TestEvictionByBytes(t *testing.T) {
	clk := newClock()
	// Room for three entries of a 1000-byte answer with a one-byte key.
	size := int64(1000 + 1 + entryOverhead)
	c := newCache(t, clk, 0.5, func(o *Options) { o.MaxBytes = 3*size + size/2 })
	load := func(context.Context) ([]byte, bool, error) { return bytes.Repeat([]byte("x"), 1000), false, nil }
	for _, k := range []string{"a", "b", "c"} {
		get(t, c, Request{Key: k}, load)
	}
	if n, b := c.Len(); n != 3 || b != 3*size {
		t.Fatalf("Len = %d entries, %d bytes; want 3, %d", n, b, 3*size)
	}
	get(t, c, Request{Key: "a"}, load) // a is now the most recently used
	get(t, c, Request{Key: "d"}, load) // evicts b, the least recently used
	if n, b := c.Len(); n != 3 || b != 3*size {
		t.Errorf("Len = %d entries, %d bytes; want 3, %d", n, b, 3*size)
	}
	for k, want := range map[string]Result{"a": Fresh, "c": Fresh, "d": Fresh} {
		if a := get(t, c, Request{Key: k}, load); a.Result != want {
			t.Errorf("%s: %v; want %v", k, a.Result, want)
		}
	}
	if a := get(t, c, Request{Key: "b"}, load); a.Result != Miss {
		t.Errorf("b: %v; want a miss, it was evicted", a.Result)
	}
	if got := counter(t, c.m.evictions); got != 2 { // b, then c for b's return
		t.Errorf("evictions = %d; want 2", got)
	}
	if got := counter(t, c.m.bytes); int64(got) != 3*size {
		t.Errorf("bytes gauge = %d; want %d", got, 3*size)
	}
	// An answer larger than the whole cache is returned and not stored.
	big := func(context.Context) ([]byte, bool, error) { return bytes.Repeat([]byte("x"), 5000), false, nil }
	get(t, c, Request{Key: "e"}, big)
	if a := get(t, c, Request{Key: "e"}, big); a.Result != Miss {
		t.Errorf("oversized e: %v; want miss", a.Result)
	}
}

// TestLoadRacingInvalidation is the trap of cache-aside libraries: a load
// that began before a write finishes after it and stores its old answer.
func TestLoadRacingInvalidation(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, 0.5)
	started, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int64
	load := func(context.Context) ([]byte, bool, error) {
		n := calls.Add(1)
		if n == 1 {
			close(started)
			<-release
		}
		return fmt.Appendf(nil, "v-%d", n), false, nil
	}
	req := Request{Key: "dupes", Tags: []string{"files", "machine:a"}}
	first := make(chan Answer)
	go func() {
		a, err := c.Get(context.Background(), req, load)
		if err != nil {
			t.Error(err)
		}
		first <- a
	}()
	<-started
	c.Invalidate(Local, "machine:a")
	// A request after the write must not join the load that began before
	// it: it starts its own.
	expect(t, get(t, c, req, load), "v-2", Miss)
	close(release)
	a := <-first
	expect(t, a, "v-1", Miss)
	if a.ETag == c.ETag(req.Key, req.Tags) {
		t.Error("the raced answer carries the current ETag")
	}
	// The old answer was not stored over the new one.
	expect(t, get(t, c, req, load), "v-2", Fresh)
}

// TestRacedLoadNotStored: with no newer load, the raced answer is still
// not stored: the next request loads.
func TestRacedLoadNotStored(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, 0.5)
	l := &loader{name: "v"}
	req := Request{Key: "stats", Tags: []string{"files", "scans"}}
	load := func(ctx context.Context) ([]byte, bool, error) {
		c.Invalidate(Process, "scans") // a write lands while the query runs
		return l.load(ctx)
	}
	expect(t, get(t, c, req, load), "v-1", Miss)
	if n, _ := c.Len(); n != 0 {
		t.Errorf("%d entries after a load raced by an invalidation; want 0", n)
	}
	expect(t, get(t, c, req, l.load), "v-2", Miss)
}

func TestMovedTagsNeverServed(t *testing.T) {
	for _, tt := range []struct {
		name    string
		advance time.Duration
		tag     string
	}{
		{"fresh", time.Second, "machine:a"},
		{"stale", 40 * time.Second, "machine:a"},
		{"fresh, epoch", time.Second, Epoch},
		{"stale, epoch", 40 * time.Second, Epoch},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			c := newCache(t, clk, 0.5)
			l := &loader{name: "v"}
			req := Request{Key: "k", Tags: []string{"files", "machine:a"}}
			other := Request{Key: "other", Tags: []string{"machine:b"}}
			get(t, c, req, l.load)
			get(t, c, other, l.load)
			clk.Advance(tt.advance)
			c.Invalidate(Local, tt.tag)
			expect(t, get(t, c, req, l.load), "v-3", Miss)
			o := get(t, c, other, l.load)
			if tt.tag == Epoch && o.Result != Miss {
				t.Errorf("entry of other tags after an epoch bump: %v; want miss", o.Result)
			}
			if tt.tag != Epoch && o.Result == Miss {
				t.Error("entry of other tags was dropped by an unrelated invalidation")
			}
		})
	}
}

func TestInvalidationMetrics(t *testing.T) {
	c := newCache(t, newClock(), 0.5)
	c.Invalidate(Local, "files")
	c.Invalidate(Process, "files", "scans")
	c.Invalidate(Process, "files", Epoch)
	c.Invalidate(Local)
	for src, want := range map[string]int{"local": 1, "process": 1, "epoch": 1} {
		if got := counter(t, c.m.invalidations.WithLabelValues(src)); got != want {
			t.Errorf("invalidations{source=%q} = %d; want %d", src, got, want)
		}
	}
}

func TestFailingLoad(t *testing.T) {
	c := newCache(t, newClock(), 0.5)
	boom := errors.New("catalog is busy")
	release := make(chan struct{})
	load := func(context.Context) ([]byte, bool, error) {
		<-release
		return nil, false, boom
	}
	const n = 20
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := c.Get(context.Background(), Request{Key: "k"}, load)
			errs <- err
		}()
	}
	waitFor(t, "the waiters to join", func() bool { return counter(t, c.m.coalesced) == n-1 })
	close(release)
	for range n {
		if err := <-errs; !errors.Is(err, boom) {
			t.Errorf("Get = %v; want the load's error", err)
		}
	}
	if got := counter(t, c.m.loadErrors); got != 1 {
		t.Errorf("load errors = %d; want 1", got)
	}
	// Nothing was stored: the next request loads again.
	l := &loader{name: "v"}
	expect(t, get(t, c, Request{Key: "k"}, l.load), "v-1", Miss)
}

func TestLoadPanicIsError(t *testing.T) {
	c := newCache(t, newClock(), 0.5)
	_, err := c.Get(t.Context(), Request{Key: "k"}, func(context.Context) ([]byte, bool, error) { panic("bad") })
	if err == nil || !strings.Contains(err.Error(), "bad") {
		t.Errorf("Get = %v; want the panic as an error", err)
	}
}

func TestCoalescing(t *testing.T) {
	c := newCache(t, newClock(), 0.5)
	const n = 200
	release := make(chan struct{})
	var calls atomic.Int64
	load := func(context.Context) ([]byte, bool, error) {
		calls.Add(1)
		<-release
		return []byte("answer"), false, nil
	}
	var wg sync.WaitGroup
	answers := make([]Answer, n)
	for i := range n {
		wg.Go(func() {
			a, err := c.Get(context.Background(), Request{Key: "dupes", Tags: []string{"files"}}, load)
			if err != nil {
				t.Error(err)
			}
			answers[i] = a
		})
	}
	waitFor(t, "199 requests to join the load", func() bool { return counter(t, c.m.coalesced) == n-1 })
	close(release)
	wg.Wait()
	if got := calls.Load(); got != 1 {
		t.Errorf("%d loads for %d concurrent requests; want 1", got, n)
	}
	for i, a := range answers {
		if string(a.Data) != "answer" || a.Result != Miss || a.ETag != answers[0].ETag {
			t.Fatalf("request %d got %+v", i, a)
		}
	}
	if got := counter(t, c.m.requests.WithLabelValues("miss")); got != n {
		t.Errorf("misses counted %d; want %d", got, n)
	}
	if got := counter(t, c.m.loads); got != 1 {
		t.Errorf("loads counted %d; want 1", got)
	}
}

// TestWaiterCancelLeavesLoad: the request that started a load going away
// does not fail the others waiting for it.
func TestWaiterCancelLeavesLoad(t *testing.T) {
	c := newCache(t, newClock(), 0.5)
	started, release := make(chan struct{}), make(chan struct{})
	load := func(ctx context.Context) ([]byte, bool, error) {
		close(started)
		select {
		case <-release:
			return []byte("v"), false, nil
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	firstErr := make(chan error)
	go func() {
		_, err := c.Get(ctx, Request{Key: "k"}, load)
		firstErr <- err
	}()
	<-started
	second := make(chan Answer)
	go func() {
		a, err := c.Get(context.Background(), Request{Key: "k"}, load)
		if err != nil {
			t.Error(err)
		}
		second <- a
	}()
	waitFor(t, "the second request to join", func() bool { return counter(t, c.m.coalesced) == 1 })
	cancel()
	if err := <-firstErr; !errors.Is(err, context.Canceled) {
		t.Errorf("canceled request: %v; want context.Canceled", err)
	}
	close(release)
	expect(t, <-second, "v", Miss)
}

func TestBypass(t *testing.T) {
	c := newCache(t, newClock(), 0.5)
	l := &loader{name: "v"}
	req := Request{Key: "k", Tags: []string{"files"}}
	get(t, c, req, l.load)
	bypass := req
	bypass.Bypass = true
	expect(t, get(t, c, bypass, l.load), "v-2", Bypass)
	expect(t, get(t, c, req, l.load), "v-2", Fresh) // the bypass refreshed the entry
	if got := counter(t, c.m.requests.WithLabelValues("bypass")); got != 1 {
		t.Errorf("bypass requests = %d; want 1", got)
	}
}

func TestDisabled(t *testing.T) {
	c := newCache(t, newClock(), 0.5, func(o *Options) { o.Disabled = true })
	l := &loader{name: "v"}
	req := Request{Key: "k", Tags: []string{"files"}}
	expect(t, get(t, c, req, l.load), "v-1", Bypass)
	expect(t, get(t, c, req, l.load), "v-2", Bypass)
	if n, _ := c.Len(); n != 0 || c.Enabled() {
		t.Errorf("a disabled cache holds %d entries, Enabled %v", n, c.Enabled())
	}
	if e := c.ETag(req.Key, req.Tags); e != "" {
		t.Errorf("ETag of a disabled cache = %q; want none", e)
	}
}

func TestETag(t *testing.T) {
	c := newCache(t, newClock(), 0.5)
	l := &loader{name: "v"}
	req := Request{Key: "k", Tags: []string{"files", "machine:a"}}
	a := get(t, c, req, l.load)
	e := c.ETag(req.Key, req.Tags)
	if a.ETag != e || !strings.HasPrefix(e, `W/"`) || !strings.HasSuffix(e, `"`) {
		t.Fatalf("answer ETag %q, ETag() %q; want the same weak tag", a.ETag, e)
	}
	if fresh := get(t, c, req, l.load); fresh.ETag != e {
		t.Errorf("fresh answer's ETag %q; want %q", fresh.ETag, e)
	}
	if o := c.ETag("other", req.Tags); o == e {
		t.Error("two keys share an ETag")
	}
	c.Invalidate(Local, "scans") // not one of its tags
	if got := c.ETag(req.Key, req.Tags); got != e {
		t.Error("an unrelated tag moved the ETag")
	}
	c.Invalidate(Local, "machine:a")
	moved := c.ETag(req.Key, req.Tags)
	if moved == e {
		t.Error("the ETag did not move with its tag")
	}
	c.Invalidate(Local, Epoch)
	if c.ETag(req.Key, req.Tags) == moved {
		t.Error("the ETag did not move with the epoch")
	}
	// Another process (or this one restarted) starts its generations at 0
	// again: its ETags must not match this one's.
	d := newCache(t, newClock(), 0.5)
	if d.ETag("other", req.Tags) == c.ETag("other", req.Tags) {
		t.Error("two caches give the same ETag")
	}
}

func TestHitRatio(t *testing.T) {
	clk := newClock()
	c := newCache(t, clk, 0.5)
	if r := c.HitRatio(); r != 0 {
		t.Errorf("HitRatio before any request = %v; want 0", r)
	}
	l := &loader{name: "v"}
	get(t, c, Request{Key: "k"}, l.load)               // miss
	get(t, c, Request{Key: "k"}, l.load)               // fresh
	get(t, c, Request{Key: "k"}, l.load)               // fresh
	get(t, c, Request{Key: "k", Bypass: true}, l.load) // not counted
	if r := c.HitRatio(); r != 2.0/3 {
		t.Errorf("HitRatio = %v; want 2/3", r)
	}
}

func TestRegister(t *testing.T) {
	c := newCache(t, newClock(), 0.5)
	reg := prometheus.NewRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	l := &loader{name: "v"}
	get(t, c, Request{Key: "k"}, l.load)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, mf := range mfs {
		got[mf.GetName()] = true
	}
	for _, name := range []string{"indexer_cache_requests_total", "indexer_cache_loads_total",
		"indexer_cache_load_errors_total", "indexer_cache_coalesced_total", "indexer_cache_load_seconds",
		"indexer_cache_invalidations_total", "indexer_cache_evictions_total", "indexer_cache_entries",
		"indexer_cache_bytes"} {
		if !got[name] {
			t.Errorf("%s not gathered", name)
		}
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP indexer_cache_entries Entries held.
# TYPE indexer_cache_entries gauge
indexer_cache_entries 1
`), "indexer_cache_entries"); err != nil {
		t.Error(err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for name, edit := range map[string]func(*Options){
		"ttl":       func(o *Options) { o.TTL = 0 },
		"swr":       func(o *Options) { o.SWR = -1 },
		"empty":     func(o *Options) { o.EmptyTTL = -1 },
		"jitter":    func(o *Options) { o.Jitter = 1 },
		"max bytes": func(o *Options) { o.MaxBytes = 0 },
		"refreshes": func(o *Options) { o.MaxRefreshes = 0 },
	} {
		o := DefaultOptions()
		edit(&o)
		if _, err := New(o); err == nil {
			t.Errorf("%s: New accepted %+v", name, o)
		}
	}
}
