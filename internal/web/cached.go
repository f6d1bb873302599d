package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/indexer/indexer/internal/cache"
	"github.com/indexer/indexer/internal/dto"
)

// read serves a readEndpoint through the query cache. It runs inside a
// lease (leased), so a catalog replaced by another process has been reopened
// and the epoch bumped (db.DB.OnReopen) before the cache is asked; and it
// first has the watcher look at the catalog (notify.Watcher.Sync), so a
// write another process committed before the request came is never answered
// from the cache.
func (s *Server) read(e readEndpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		for name := range q {
			if !slices.Contains(e.params, name) {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("%s takes no parameter %q", e.path, name))
				return
			}
		}
		p := params{q}
		if s.watch != nil {
			if err := s.watch.Sync(r.Context()); err != nil {
				// The watcher handed the cache the epoch: what follows loads.
				s.log.Debug("cannot tell what changed in the catalog", "err", err)
			}
		}
		req := cache.Request{Key: e.key(q), Tags: e.tags(p), Bypass: noCache(r.Header)}
		if etag := s.cache.ETag(req.Key, req.Tags); etag != "" && e.finish == nil && !req.Bypass &&
			etagMatch(r.Header.Get("If-None-Match"), etag) {
			s.notModified.Inc()
			s.cacheHeaders(w, etag, false)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		a, err := s.cache.Get(r.Context(), req, func(ctx context.Context) ([]byte, bool, error) {
			// Its own lease: a background refresh outlives the request.
			release, err := s.cfg.Catalog.DB().Acquire(ctx)
			if err != nil {
				return nil, false, fmt.Errorf("open the catalog: %w", err)
			}
			defer release()
			v, err := e.load(ctx, p)
			if err != nil {
				return nil, false, err
			}
			b, err := json.Marshal(v)
			if err != nil {
				return nil, false, fmt.Errorf("encode the answer: %w", err)
			}
			return append(b, '\n'), e.empty != nil && e.empty(v), nil
		})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		status, body := http.StatusOK, a.Data
		if e.finish != nil {
			if status, body, err = e.finish(a.Data); err != nil {
				s.fail(w, r, err)
				return
			}
			a.ETag = ""
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Cache", a.Result.String())
		s.cacheHeaders(w, a.ETag, a.Empty)
		if a.ETag != "" && status == http.StatusOK && etagMatch(r.Header.Get("If-None-Match"), a.ETag) {
			// A no-cache request whose copy is the answer just loaded.
			s.notModified.Inc()
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		w.Write(body)
	})
}

// cacheHeaders sets ETag and Cache-Control: the browser may keep an answer
// as long as the server's cache would, and revalidate it by ETag.
func (s *Server) cacheHeaders(w http.ResponseWriter, etag string, empty bool) {
	if !s.cache.Enabled() {
		w.Header().Set("Cache-Control", "no-store")
		return
	}
	if etag != "" {
		w.Header().Set("ETag", etag)
	}
	o := s.cache.Options()
	if empty {
		w.Header().Set("Cache-Control", fmt.Sprintf("private, max-age=%d", int(o.EmptyTTL.Seconds())))
		return
	}
	w.Header().Set("Cache-Control", fmt.Sprintf("private, max-age=%d, stale-while-revalidate=%d",
		int(o.TTL.Seconds()), int(o.SWR.Seconds())))
}

// noCache tells whether a request asks for an answer loaded now:
// Cache-Control: no-cache, or the HTTP/1.0 Pragma: no-cache.
func noCache(h http.Header) bool {
	for _, v := range h.Values("Cache-Control") {
		for d := range strings.SplitSeq(v, ",") {
			d = strings.ToLower(strings.TrimSpace(d))
			if d == "no-cache" || strings.HasPrefix(d, "no-cache=") {
				return true
			}
		}
	}
	return h.Get("Cache-Control") == "" && strings.EqualFold(strings.TrimSpace(h.Get("Pragma")), "no-cache")
}

// etagMatch tells whether an If-None-Match header names etag, comparing
// weakly (RFC 9110 13.1.2): W/ prefixes are ignored, * matches anything.
func etagMatch(header, etag string) bool {
	if header == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == want {
			return true
		}
	}
	return false
}

// finishHealth adds the cache's hit ratio to a health answer, cached or
// not, and picks its status: 503 when it failed.
func (s *Server) finishHealth(body []byte) (int, []byte, error) {
	var h dto.Health
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // the facts keep their numbers as they were
	if err := dec.Decode(&h); err != nil {
		return 0, nil, fmt.Errorf("decode the health answer: %w", err)
	}
	if s.cache.Enabled() {
		if h.Facts == nil {
			h.Facts = map[string]any{}
		}
		h.Facts["cache_hit_ratio"] = s.cache.HitRatio()
	}
	status := http.StatusOK
	if h.Status == dto.StatusFail {
		status = http.StatusServiceUnavailable
	}
	b, err := json.Marshal(h)
	if err != nil {
		return 0, nil, fmt.Errorf("encode the health answer: %w", err)
	}
	return status, append(b, '\n'), nil
}
