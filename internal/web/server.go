package web

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/indexer/indexer/internal/cache"
	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/notify"
	"github.com/indexer/indexer/internal/service"
)

// Config is what a Server serves and how.
type Config struct {
	// Catalog is the open catalog. Its db.DB should be opened with
	// db.Options.UnlockIdle, so that the server holds the catalog only while
	// a request or a scan is in flight.
	Catalog *service.Catalog
	// DBOptions are the options health opens the catalog with.
	DBOptions db.Options
	// Machine is the machine name scans record.
	Machine string
	// Token, when set, is required on every request: a Bearer header or the
	// cookie the login page sets.
	Token string
	// AllowRestoreFrom is a directory restore sources may come from besides
	// the catalog's backups directory; "" for none.
	AllowRestoreFrom string
	// Log receives request failures and scan outcomes; nil discards them.
	Log *slog.Logger
	// Cache configures the query cache of the read endpoints; with a zero
	// TTL, cache.DefaultOptions() are used. Disabled turns it off.
	Cache cache.Options
	// WatchInterval is how often the catalog is looked at for other
	// processes' writes between requests; 0 means notify's default. (Each
	// request looks too, before it is answered.)
	WatchInterval time.Duration
}

// Timeouts of the HTTP server. Writes get a deadline per request, except the
// event streams, which set one per event.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = time.Minute
	idleTimeout       = 2 * time.Minute
	writeTimeout      = 2 * time.Minute
	// shutdownGrace bounds how long running requests may finish after a stop.
	shutdownGrace = 10 * time.Second
)

// tokenCookie is the cookie the login page sets.
const tokenCookie = "indexer_token"

// Server is the HTTP side of one catalog.
type Server struct {
	cfg   Config
	log   *slog.Logger
	scans *scans
	pages *pages
	h     http.Handler

	cache       *cache.Cache
	watch       *notify.Watcher // nil when the cache is off
	reg         *prometheus.Registry
	notModified prometheus.Counter
}

// New builds a server over cfg.Catalog. Unless the cache is off, it starts
// hearing writes at once: this process's through the catalog's OnCommit and
// OnReopen functions (which it sets), other processes' through a
// notify.Watcher; Close stops it.
func New(cfg Config) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Cache.TTL == 0 {
		def := cache.DefaultOptions()
		def.Disabled = cfg.Cache.Disabled
		cfg.Cache = def
	}
	s := &Server{cfg: cfg, log: cfg.Log}
	s.scans = newScans(cfg.Catalog, cfg.Machine, cfg.Log)
	p, err := newPages()
	if err != nil {
		return nil, err
	}
	s.pages = p
	if err := s.startCache(); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	s.routes(mux)
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusForbidden, "cross-site requests may not change anything")
	}))
	s.h = s.authenticate(cop.Handler(mux))
	return s, nil
}

// startCache makes the query cache and the metrics registry, and, unless
// the cache is off, hooks the cache to every write it can hear of.
func (s *Server) startCache() error {
	c, err := cache.New(s.cfg.Cache)
	if err != nil {
		return fmt.Errorf("query cache: %w", err)
	}
	s.cache = c
	s.notModified = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "indexer_http_not_modified_total",
		Help: "Requests answered 304 Not Modified: the client's copy, named by If-None-Match, was current.",
	})
	s.reg = prometheus.NewRegistry()
	s.reg.MustRegister(c, s.notModified, newPoolCollector(s.cfg.Catalog.DB()), newScanCollector(s.scans),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if !c.Enabled() {
		return nil
	}
	cat := s.cfg.Catalog
	// This process's writes, at once: a scan's chunks, a restore.
	cat.UoW().OnCommit(func(tags []string) { c.Invalidate(cache.Local, tags...) })
	// A catalog replaced by another process, before the first lease on
	// the new file is handed out: before anything is read from it.
	cat.DB().OnReopen(func() { c.Invalidate(cache.Process, cache.Epoch) })
	// Other processes' writes.
	w, err := notify.Watch(context.Background(), cat.DB().Path(), notify.Options{Interval: s.cfg.WatchInterval, Log: s.log},
		func(tags []string) { c.Invalidate(cache.Process, tags...) })
	if err != nil {
		cat.UoW().OnCommit(nil)
		cat.DB().OnReopen(nil)
		c.Close()
		return fmt.Errorf("watch the catalog for other processes' writes: %w", err)
	}
	s.watch = w
	return nil
}

// Close stops hearing writes and ends the cache's background loads. The
// catalog stays open.
func (s *Server) Close() error {
	if s.watch != nil {
		s.cfg.Catalog.UoW().OnCommit(nil)
		s.cfg.Catalog.DB().OnReopen(nil)
		s.watch.Close()
	}
	s.cache.Close()
	return nil
}

// Cache returns the server's query cache.
func (s *Server) Cache() *cache.Cache { return s.cache }

// Handler returns the server's handler: authentication, cross-site checks
// and the routes.
func (s *Server) Handler() http.Handler { return s.h }

// routes registers every endpoint.
func (s *Server) routes(mux *http.ServeMux) {
	for _, e := range s.readEndpoints() {
		mux.Handle("GET "+e.path, s.leased(s.read(e)))
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelError)}))
	mux.Handle("POST /api/scans", s.leased(http.HandlerFunc(s.startScan)))
	mux.Handle("DELETE /api/scans/{id}", http.HandlerFunc(s.cancelScan))
	mux.Handle("GET /api/scans/{id}/events", http.HandlerFunc(s.scanEvents))
	mux.Handle("POST /api/backup", s.leased(http.HandlerFunc(s.backup)))
	mux.Handle("POST /api/restore", s.leased(http.HandlerFunc(s.restore)))
	mux.Handle("POST /api/dedupe/plan", s.leased(http.HandlerFunc(s.dedupePlan)))
	mux.Handle("POST /api/dedupe/apply", s.leased(http.HandlerFunc(s.dedupeApply)))
	mux.Handle("/api/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
			r2 := r.Clone(r.Context())
			r2.Method = m
			if _, pattern := mux.Handler(r2); pattern != "/api/" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s takes %s, not %s", r.URL.Path, strings.Join(allow, " or "), r.Method))
			return
		}
		writeError(w, http.StatusNotFound, fmt.Sprintf("there is no API endpoint %s", r.URL.Path))
	}))
	s.pages.routes(mux, s)
}

// leased runs h while holding the catalog (db.DB.Acquire), with a write
// deadline: between requests the server holds nothing, and the first request
// after a restore in another process reopens the pools.
func (s *Server) leased(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(writeTimeout))
		release, err := s.cfg.Catalog.DB().Acquire(r.Context())
		if err != nil {
			s.fail(w, r, fmt.Errorf("open the catalog: %w", err))
			return
		}
		defer release()
		h.ServeHTTP(w, r)
	})
}

// authenticate lets a request through when no token is configured, or when
// it carries the token; the login page and static assets need none.
func (s *Server) authenticate(h http.Handler) http.Handler {
	if s.cfg.Token == "" {
		return h
	}
	want := sha256.Sum256([]byte(s.cfg.Token))
	ok := func(got string) bool {
		g := sha256.Sum256([]byte(got))
		return subtle.ConstantTimeCompare(g[:], want[:]) == 1
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/login" || strings.HasPrefix(r.URL.Path, "/static/") {
			h.ServeHTTP(w, r)
			return
		}
		if bearer, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); found && ok(bearer) {
			h.ServeHTTP(w, r)
			return
		}
		if c, err := r.Cookie(tokenCookie); err == nil && ok(c.Value) {
			h.ServeHTTP(w, r)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/api/") {
			writeError(w, http.StatusUnauthorized, "a valid token is required (Authorization: Bearer TOKEN)")
			return
		}
		s.pages.login(w, r, http.StatusUnauthorized, "")
	})
}

// checkToken tells whether t is the server's token, in constant time.
func (s *Server) checkToken(t string) bool {
	a, b := sha256.Sum256([]byte(t)), sha256.Sum256([]byte(s.cfg.Token))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// Serve answers requests on ln until ctx is done; then it stops accepting,
// lets running requests finish (at most shutdownGrace), stops a running scan
// as Ctrl-C does and waits for it to record what it did. It returns nil after
// such a stop.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	srv := &http.Server{
		Handler:           s.h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		IdleTimeout:       idleTimeout,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		s.scans.stop()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.scans.stop() // ends the event streams too, once the scan is done
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	err := srv.Shutdown(sctx)
	cancelBase() // event streams and stragglers
	if errors.Is(err, context.DeadlineExceeded) {
		s.log.Warn("requests still running after the grace period were cut off")
		err = srv.Close()
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		return errors.Join(err, serr)
	}
	return err
}
