package cache

import (
	"container/list"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"time"
)

// Epoch is the tag that stands for everything: bumping it invalidates every
// entry, whatever its tags. It is bumped when nobody can tell what changed (the
// catalog file was replaced, migrated, or changes were missed).
const Epoch = "epoch"

// Result says how an answer was obtained.
type Result int

const (
	// Miss: no servable entry; the answer was loaded (or joined a load
	// already running) and stored.
	Miss Result = iota
	// Fresh: an entry within its TTL, with none of its tags moved.
	Fresh
	// Stale: an entry past its TTL but within its stale-while-revalidate
	// window, with none of its tags moved; one background load refreshes it.
	Stale
	// Bypass: the cache was not asked (Request.Bypass, or the cache is
	// disabled); the answer was loaded for this request.
	Bypass
)

// String returns the result's name as X-Cache and the metrics spell it.
func (r Result) String() string {
	switch r {
	case Fresh:
		return "fresh"
	case Stale:
		return "stale"
	case Bypass:
		return "bypass"
	default:
		return "miss"
	}
}

// Source says where an invalidation came from, for the metrics.
type Source string

const (
	// Local is a write committed by this process.
	Local Source = "local"
	// Process is a write committed by another process, heard by a notifier.
	Process Source = "process"
)

// Options configure a Cache. Start from DefaultOptions.
type Options struct {
	// TTL is how long an answer is fresh, give or take Jitter.
	TTL time.Duration
	// SWR is how long after its TTL an answer is still served, stale, while
	// one background load refreshes it. 0 means never.
	SWR time.Duration
	// EmptyTTL is how long an empty answer (nothing matched) lives: fresh
	// for EmptyTTL give or take Jitter, with no stale window.
	EmptyTTL time.Duration
	// Jitter is the fraction by which each TTL is moved at random, up or
	// down, so that entries stored together do not expire together.
	Jitter float64
	// MaxBytes bounds the entries' size; the least recently used are
	// evicted first.
	MaxBytes int64
	// MaxRefreshes bounds the background refreshes running at once; a stale
	// entry met while all run is served without starting another.
	MaxRefreshes int
	// LoadTimeout bounds every load, foreground or background. Loads do not
	// end with the request that started them, since others may wait for
	// them.
	LoadTimeout time.Duration
	// Disabled turns the cache off: every Get loads, nothing is stored, and
	// the result is Bypass.
	Disabled bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand returns a number in [0, 1) for the jitter; nil means math/rand.
	Rand func() float64
}

// DefaultOptions returns the defaults of indexer serve's flags.
func DefaultOptions() Options {
	return Options{
		TTL:          30 * time.Second,
		SWR:          60 * time.Second,
		EmptyTTL:     5 * time.Second,
		Jitter:       0.10,
		MaxBytes:     64 << 20,
		MaxRefreshes: 4,
		LoadTimeout:  2 * time.Minute,
	}
}

// Request names one answer.
type Request struct {
	// Key identifies the answer: the query and all its parameters. The same
	// key must always come with the same tags.
	Key string
	// Tags name what the answer was read from; a write that touches any of
	// them, or the Epoch, makes the entry unservable.
	Tags []string
	// Bypass loads the answer now whatever the cache holds, and stores it
	// (Cache-Control: no-cache).
	Bypass bool
	// TTL and SWR, when not 0, replace the cache's for this entry.
	TTL, SWR time.Duration
}

// Answer is what Get returns.
type Answer struct {
	// Data is the encoded answer. It is shared: callers must not modify it.
	Data []byte
	// Empty is what the load said of the answer.
	Empty  bool
	Result Result
	// ETag is a weak entity tag made of the key and the generations of its
	// tags the answer reflects; "" when the cache is disabled.
	ETag string
}

// Load computes an answer. empty reports an answer in which nothing matched;
// it is kept EmptyTTL only. An error is handed to every caller waiting for
// this load, and nothing is stored.
type Load func(ctx context.Context) (data []byte, empty bool, err error)

// entryOverhead approximates what an entry costs beside its key, data and
// tags: the list element, the map slot and the struct.
const entryOverhead = 256

// Cache is a query cache. It is safe for concurrent use. Close it to stop its
// background refreshes.
type Cache struct {
	opts  Options
	nonce string // tells this process's ETags from another's
	m     *series

	base    context.Context // ends background work on Close
	stop    context.CancelFunc
	refresh chan struct{} // a slot per running background refresh
	wg      sync.WaitGroup

	mu      sync.Mutex
	epoch   uint64
	gens    map[string]uint64 // tag generations: never evicted
	lru     *list.List        // of *entry, most recently used first
	items   map[string]*list.Element
	bytes   int64
	flights map[string]*flight // by key and the generations it started at
	seq     uint64             // numbers loads in the order they start
}

type entry struct {
	key        string
	data       []byte
	empty      bool
	snap       snapshot
	etag       string
	seq        uint64 // of the load that produced it
	freshUntil time.Time
	staleUntil time.Time
	size       int64
	refreshing bool
}

// snapshot is the epoch and the generations of a list of tags, in order.
type snapshot struct {
	epoch uint64
	gens  []uint64
}

func (s snapshot) equal(o snapshot) bool {
	if s.epoch != o.epoch || len(s.gens) != len(o.gens) {
		return false
	}
	for i := range s.gens {
		if s.gens[i] != o.gens[i] {
			return false
		}
	}
	return true
}

type flight struct {
	done  chan struct{}
	data  []byte
	empty bool
	err   error
	etag  string
}

// New returns a cache with opts. It fails on options out of range: TTL and
// MaxBytes must be positive, SWR, EmptyTTL and LoadTimeout not negative,
// Jitter within [0, 1) and MaxRefreshes at least 1.
func New(opts Options) (*Cache, error) {
	switch {
	case opts.TTL <= 0:
		return nil, fmt.Errorf("cache TTL %v is not positive", opts.TTL)
	case opts.SWR < 0:
		return nil, fmt.Errorf("cache stale-while-revalidate %v is negative", opts.SWR)
	case opts.EmptyTTL < 0:
		return nil, fmt.Errorf("cache empty-answer TTL %v is negative", opts.EmptyTTL)
	case opts.Jitter < 0 || opts.Jitter >= 1:
		return nil, fmt.Errorf("cache jitter %v is not within [0, 1)", opts.Jitter)
	case opts.MaxBytes <= 0:
		return nil, fmt.Errorf("cache size bound %d is not positive", opts.MaxBytes)
	case opts.MaxRefreshes < 1:
		return nil, fmt.Errorf("cache background refreshes %d is less than 1", opts.MaxRefreshes)
	case opts.LoadTimeout < 0:
		return nil, fmt.Errorf("cache load timeout %v is negative", opts.LoadTimeout)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = mrand.Float64
	}
	var n [8]byte
	if _, err := rand.Read(n[:]); err != nil {
		return nil, fmt.Errorf("cache nonce: %w", err)
	}
	base, stop := context.WithCancel(context.Background())
	return &Cache{
		opts: opts, nonce: hex.EncodeToString(n[:]), m: newMetrics(),
		base: base, stop: stop, refresh: make(chan struct{}, opts.MaxRefreshes),
		gens: map[string]uint64{}, lru: list.New(), items: map[string]*list.Element{},
		flights: map[string]*flight{},
	}, nil
}

// Close cancels the cache's loads, those callers wait for and those it runs
// in the background, and waits for the background ones to end. Loads that
// Get starts afterwards are canceled at once.
func (c *Cache) Close() {
	c.stop()
	c.wg.Wait()
}

// Enabled reports whether the cache stores answers.
func (c *Cache) Enabled() bool { return !c.opts.Disabled }

// Options returns the options the cache runs with.
func (c *Cache) Options() Options { return c.opts }

// Get returns the answer to req: a fresh entry; a stale one, starting one
// background refresh of it; or, on a miss, the result of load, which runs
// once for all concurrent callers asking for the same key at the same tag
// generations and is stored unless a tag moved while it ran. An entry whose
// tags moved since it was loaded is never returned. With req.Bypass the
// answer is loaded for this call and stored.
//
// A load runs on a context that keeps ctx's values but not its deadline, so
// that the callers waiting for it do not depend on the first one; Get
// returns ctx's error when ctx ends first. A load's error is returned to
// every caller that waited for it, and nothing is stored.
func (c *Cache) Get(ctx context.Context, req Request, load Load) (Answer, error) {
	if c.opts.Disabled {
		c.m.request(Bypass)
		data, empty, err := c.runLoad(ctx, load)
		return Answer{Data: data, Empty: empty, Result: Bypass}, err
	}
	c.mu.Lock()
	snap := c.snapshotLocked(req.Tags)
	if !req.Bypass {
		if a, ok := c.servableLocked(req, snap, load); ok {
			c.mu.Unlock()
			c.m.request(a.Result)
			return a, nil
		}
	}
	etag := c.etag(req.Key, req.Tags, snap)
	fkey := etag // the key and the generations: a load begun before a write is not joined after it
	f := c.flights[fkey]
	if f != nil && !req.Bypass {
		c.mu.Unlock()
		c.m.request(Miss)
		c.m.coalesced.Inc()
		return c.wait(ctx, f, Miss)
	}
	f = &flight{done: make(chan struct{}), etag: etag}
	c.flights[fkey] = f // a bypass's load is the newest: later callers join it
	c.seq++
	seq := c.seq
	c.mu.Unlock()
	res := Miss
	if req.Bypass {
		res = Bypass
	}
	c.m.request(res)
	go c.fly(context.WithoutCancel(ctx), f, fkey, req, snap, seq, load)
	return c.wait(ctx, f, res)
}

// servableLocked returns the entry of req.Key if it may be served, and
// starts its refresh if it is stale. It drops an entry that expired or
// whose tags moved.
func (c *Cache) servableLocked(req Request, snap snapshot, load Load) (Answer, bool) {
	el := c.items[req.Key]
	if el == nil {
		return Answer{}, false
	}
	e := el.Value.(*entry)
	now := c.opts.Now()
	switch {
	case !e.snap.equal(snap):
		c.removeLocked(el)
		return Answer{}, false
	case now.Before(e.freshUntil):
		c.lru.MoveToFront(el)
		return Answer{Data: e.data, Empty: e.empty, Result: Fresh, ETag: e.etag}, true
	case now.Before(e.staleUntil):
		c.lru.MoveToFront(el)
		if !e.refreshing && c.base.Err() == nil {
			select {
			case c.refresh <- struct{}{}:
				e.refreshing = true
				c.wg.Add(1)
				go c.revalidate(req, e, load)
			default: // all refresh slots busy: serve stale, try again next time
			}
		}
		return Answer{Data: e.data, Empty: e.empty, Result: Stale, ETag: e.etag}, true
	default:
		c.removeLocked(el)
		return Answer{}, false
	}
}

// revalidate refreshes the stale entry e in the background, through the
// same single flight as a miss.
func (c *Cache) revalidate(req Request, e *entry, load Load) {
	defer c.wg.Done()
	defer func() { <-c.refresh }()
	req.Bypass = false
	c.mu.Lock()
	snap := c.snapshotLocked(req.Tags)
	fkey := c.etag(req.Key, req.Tags, snap)
	f := c.flights[fkey]
	if f == nil {
		f = &flight{done: make(chan struct{}), etag: fkey}
		c.flights[fkey] = f
		c.seq++
		seq := c.seq
		c.mu.Unlock()
		c.fly(c.base, f, fkey, req, snap, seq, load)
	} else {
		c.mu.Unlock()
		<-f.done
	}
	c.mu.Lock()
	e.refreshing = false // failed, or replaced: a later stale Get may try again
	c.mu.Unlock()
}

// wait returns f's outcome once it is done, or ctx's error first.
func (c *Cache) wait(ctx context.Context, f *flight, res Result) (Answer, error) {
	select {
	case <-f.done:
	case <-ctx.Done():
		return Answer{}, ctx.Err()
	}
	if f.err != nil {
		return Answer{}, f.err
	}
	return Answer{Data: f.data, Empty: f.empty, Result: res, ETag: f.etag}, nil
}

// fly runs flight f's load and stores its answer if none of req's tags moved
// since snap was taken, before the load began.
func (c *Cache) fly(ctx context.Context, f *flight, fkey string, req Request, snap snapshot, seq uint64, load Load) {
	defer close(f.done)
	f.data, f.empty, f.err = c.runLoad(ctx, load)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.flights[fkey] == f {
		delete(c.flights, fkey)
	}
	if f.err != nil || !c.snapshotLocked(req.Tags).equal(snap) {
		return
	}
	if el := c.items[req.Key]; el != nil {
		if old := el.Value.(*entry); old.seq > seq && old.snap.equal(snap) {
			return // a load that began later already stored its answer
		}
		c.removeLocked(el)
	}
	now := c.opts.Now()
	ttl, swr := c.opts.TTL, c.opts.SWR
	if req.TTL != 0 {
		ttl = req.TTL
	}
	if req.SWR != 0 {
		swr = req.SWR
	}
	if f.empty {
		ttl, swr = c.opts.EmptyTTL, 0
	}
	fresh := now.Add(c.jitter(ttl))
	e := &entry{key: req.Key, data: f.data, empty: f.empty, snap: snap, etag: f.etag, seq: seq,
		freshUntil: fresh, staleUntil: fresh.Add(swr)}
	e.size = int64(len(e.key)+len(e.data)) + entryOverhead
	for _, t := range req.Tags {
		e.size += int64(len(t)) + 8
	}
	if e.size > c.opts.MaxBytes || !fresh.After(now) {
		return // larger than the whole cache, or dead on arrival (an EmptyTTL of 0)
	}
	c.items[e.key] = c.lru.PushFront(e)
	c.bytes += e.size
	for c.bytes > c.opts.MaxBytes {
		c.removeLocked(c.lru.Back())
		c.m.evictions.Inc()
	}
	c.m.setSize(c.lru.Len(), c.bytes)
}

// runLoad runs load with a deadline of LoadTimeout, ended early by Close,
// and counts it.
func (c *Cache) runLoad(ctx context.Context, load Load) (data []byte, empty bool, err error) {
	if c.opts.LoadTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.LoadTimeout)
		defer cancel()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(c.base, cancel)()
	start := time.Now() // the load's own duration, not the injected clock
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("cache load panicked: %v", p)
		}
		c.m.load(time.Since(start), err)
	}()
	data, empty, err = load(ctx)
	if err == nil && data == nil {
		data = []byte{}
	}
	return data, empty, err
}

// jitter moves d by up to ±Jitter of itself.
func (c *Cache) jitter(d time.Duration) time.Duration {
	f := 1 + c.opts.Jitter*(2*c.opts.Rand()-1)
	return time.Duration(float64(d) * f)
}

func (c *Cache) removeLocked(el *list.Element) {
	e := c.lru.Remove(el).(*entry)
	delete(c.items, e.key)
	c.bytes -= e.size
	c.m.setSize(c.lru.Len(), c.bytes)
}

func (c *Cache) snapshotLocked(tags []string) snapshot {
	s := snapshot{epoch: c.epoch, gens: make([]uint64, len(tags))}
	for i, t := range tags {
		s.gens[i] = c.gens[t]
	}
	return s
}

// Invalidate bumps the generations of tags: no entry carrying one of them, as
// it is now, is served again, and no load that began before is stored. The
// tag Epoch invalidates every entry and drops them all. src says who wrote,
// for the metrics; a call that bumps the epoch counts as an epoch
// invalidation.
func (c *Cache) Invalidate(src Source, tags ...string) {
	if len(tags) == 0 {
		return
	}
	c.mu.Lock()
	epoch := false
	for _, t := range tags {
		if t == Epoch {
			epoch = true
			continue
		}
		c.gens[t]++
	}
	if epoch {
		c.epoch++
		c.lru.Init()
		clear(c.items)
		c.bytes = 0
		c.m.setSize(0, 0)
	}
	c.mu.Unlock()
	if epoch {
		c.m.invalidations.With("epoch").Inc()
	} else {
		c.m.invalidations.With(string(src)).Inc()
	}
}

// ETag returns the weak entity tag an answer to key with tags, loaded now,
// would carry: it changes when any of the tags or the epoch moves, and
// differs between processes. "" when the cache is disabled.
func (c *Cache) ETag(key string, tags []string) string {
	if c.opts.Disabled {
		return ""
	}
	c.mu.Lock()
	snap := c.snapshotLocked(tags)
	c.mu.Unlock()
	return c.etag(key, tags, snap)
}

func (c *Cache) etag(key string, tags []string, s snapshot) string {
	h := sha256.New()
	var n [8]byte
	field := func(s string) {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	field(c.nonce)
	field(key)
	binary.BigEndian.PutUint64(n[:], s.epoch)
	h.Write(n[:])
	for i, t := range tags {
		field(t)
		binary.BigEndian.PutUint64(n[:], s.gens[i])
		h.Write(n[:])
	}
	return `W/"` + hex.EncodeToString(h.Sum(nil)[:16]) + `"`
}

// Len returns the number of entries and their size in bytes.
func (c *Cache) Len() (entries int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len(), c.bytes
}

// HitRatio returns the share of requests answered from the cache, fresh or
// stale, among those that could have been (fresh, stale and miss; bypasses
// are not counted). It is 0 before the first request.
func (c *Cache) HitRatio() float64 {
	return c.m.hitRatio()
}
