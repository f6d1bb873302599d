package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/indexer/indexer/internal/bytesize"
	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/service"
)

// Paging bounds of the listings.
const (
	defaultLimit = 50
	maxLimit     = 1000
)

// readEndpoint is a GET endpoint that only reads: its parameters go through
// load, one service call, whose answer is encoded as JSON and kept in the
// query cache. Key gives the parameters in a canonical form, the cache's key.
type readEndpoint struct {
	path   string
	params []string // the parameters it takes; any other is a 400
	load   func(ctx context.Context, p params) (any, error)
	// tags name the data an answer is read from (dto.TagFiles, ...): a
	// write that touches one makes the cached answer unservable.
	tags func(p params) []string
	// empty tells an answer in which nothing matched, cached briefly; nil
	// means never.
	empty func(v any) bool
	// ownCatalog is set for an endpoint that opens the catalog itself
	// (health, which reports what fails): it is answered without a lease.
	ownCatalog bool
	// finish, when set, turns the encoded answer, cached or not, into the
	// status and body sent; it makes the answer carry no ETag, as its body
	// changes beside the catalog. nil means 200 and the answer as it is.
	finish func(body []byte) (int, []byte, error)
	// mounts is set for an endpoint whose answer tells where volumes are
	// mounted now: the mount table is part of its cache key, for plugging a
	// drive in writes nothing to the catalog.
	mounts bool
}

// tagged returns a tags function giving always the same tags.
func tagged(tags ...string) func(params) []string { return func(params) []string { return tags } }

// machineOr returns the tags of an answer limited to the machine named by
// the machine parameter, or else of all machines' files.
func machineOr(p params) []string {
	if m := p.str("machine"); m != "" {
		return []string{dto.MachineTag(m)}
	}
	return []string{dto.TagFiles}
}

// key returns the endpoint and its parameters in canonical form: the taken
// parameters in a fixed order, each with all its values.
func (e readEndpoint) key(q url.Values) string {
	var b strings.Builder
	b.WriteString(e.path)
	for _, name := range e.params {
		if vs, ok := q[name]; ok {
			b.WriteString("\x00" + name)
			for _, v := range vs {
				b.WriteString("\x01" + v)
			}
		}
	}
	if e.mounts {
		b.WriteString("\x00mounts\x01" + mountStamp())
	}
	return b.String()
}

// mountStamp is a digest of the mount table now; "" when it cannot be
// read (the answer then tells every volume offline, as Places does).
func mountStamp() string {
	table, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(table)
	return hex.EncodeToString(sum[:8])
}

// badParam is a parameter that cannot be used: a 400.
type badParam struct{ msg string }

func (e *badParam) Error() string { return e.msg }

func badf(format string, a ...any) error { return &badParam{fmt.Sprintf(format, a...)} }

// params reads query parameters, recording the first bad one.
type params struct{ q url.Values }

func (p params) str(name string) string { return p.q.Get(name) }

func (p params) boolean(name string) (bool, error) {
	v := p.q.Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badf("%s=%q is not true or false", name, v)
	}
	return b, nil
}

func (p params) size(name string, def int64) (int64, error) {
	v := p.q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := bytesize.Parse(v)
	if err != nil {
		return 0, badf("%s=%q is not a size such as 1024, 10K or 1.5MB", name, v)
	}
	return n, nil
}

func (p params) integer(name string, def, lo, hi int) (int, error) {
	v := p.q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, badf("%s=%q is not a whole number from %d to %d", name, v, lo, hi)
	}
	return n, nil
}

// page reads limit and offset.
func (p params) page() (limit, offset int, err error) {
	if limit, err = p.integer("limit", defaultLimit, 1, maxLimit); err != nil {
		return 0, 0, err
	}
	offset, err = p.integer("offset", 0, 0, 1<<31-1)
	return limit, offset, err
}

// absPath reads a parameter that must be a clean absolute path, or empty.
func (p params) absPath(name string) (string, error) {
	v := p.q.Get(name)
	if v == "" {
		return "", nil
	}
	if !filepath.IsAbs(v) {
		return "", badf("%s=%q is not an absolute path", name, v)
	}
	return filepath.Clean(v), nil
}

// TreePage is one level of a machine's tree.
type TreePage struct {
	Machine string          `json:"machine"`
	Path    string          `json:"path"`
	Entries []dto.TreeEntry `json:"entries"`
}

// FindPage is one page of find's rows.
type FindPage struct {
	Files  []dto.Found `json:"files"`
	Offset int         `json:"offset"`
	Limit  int         `json:"limit"`
	// More tells whether rows follow this page.
	More bool `json:"more"`
}

// readEndpoints are the API's GET endpoints.
func (s *Server) readEndpoints() []readEndpoint {
	cat := s.cfg.Catalog
	return []readEndpoint{
		{path: "/api/stats", params: []string{"scans"}, load: func(ctx context.Context, p params) (any, error) {
			n, err := p.integer("scans", 5, 0, 1000)
			if err != nil {
				return nil, err
			}
			return cat.Stats(ctx, n)
		}, tags: tagged(dto.TagFiles, dto.TagScans)},
		{path: "/api/dupes", params: []string{"min_size", "under", "machine", "include_archived", "sort", "ext", "q", "times", "limit", "offset"},
			load: func(ctx context.Context, p params) (any, error) {
				q := service.DupesQuery{Sort: p.str("sort"), Ext: strings.ToLower(strings.TrimPrefix(p.str("ext"), ".")), Text: p.str("q")}
				q.Machine = p.str("machine")
				var err error
				if q.MinSize, err = p.size("min_size", 1); err != nil {
					return nil, err
				}
				under, err := p.absPath("under")
				if err != nil {
					return nil, err
				}
				if under != "" {
					q.Under = []string{under}
				}
				if q.IncludeArchived, err = p.boolean("include_archived"); err != nil {
					return nil, err
				}
				// times=true adds each file's "modified", for the page; without
				// it the groups are exactly what dupes --json prints.
				if q.Times, err = p.boolean("times"); err != nil {
					return nil, err
				}
				if q.Limit, q.Offset, err = p.page(); err != nil {
					return nil, err
				}
				return cat.DupesPage(ctx, q)
			},
			mounts: true,
			// Not limited to the machine filter: a group shown for one
			// machine lists the copies on the others.
			tags:  tagged(dto.TagFiles),
			empty: func(v any) bool { return len(v.(dto.DupesPage).Groups) == 0 }},
		{path: "/api/find", params: []string{"name", "q", "i", "hash", "under", "machine", "min_size", "max_size", "deleted", "include_archived", "limit", "offset"},
			load: func(ctx context.Context, p params) (any, error) {
				o := service.FindOptions{Name: p.str("name"), Hash: p.str("hash"), Machine: p.str("machine")}
				if q := p.str("q"); q != "" {
					o.Terms = []string{q} // one term: the text as typed, spaces included
				}
				var err error
				if o.IncludeArchived, err = p.boolean("include_archived"); err != nil {
					return nil, err
				}
				if o.Fold, err = p.boolean("i"); err != nil {
					return nil, err
				}
				if o.Deleted, err = p.boolean("deleted"); err != nil {
					return nil, err
				}
				if o.MinSize, err = p.size("min_size", 0); err != nil {
					return nil, err
				}
				if o.MaxSize, err = p.size("max_size", -1); err != nil {
					return nil, err
				}
				if o.Under, err = p.absPath("under"); err != nil {
					return nil, err
				}
				limit, offset, err := p.page()
				if err != nil {
					return nil, err
				}
				o.Limit = offset + limit + 1 // one more tells whether a next page exists
				out := FindPage{Files: []dto.Found{}, Offset: offset, Limit: limit}
				n := 0
				_, err = cat.Find(ctx, o, func(f dto.FileWithHash) error {
					n++
					switch {
					case n <= offset:
					case len(out.Files) < limit:
						out.Files = append(out.Files, dto.NewFound(f))
					default:
						out.More = true
					}
					return nil
				})
				return out, err
			},
			tags:  machineOr,
			empty: func(v any) bool { return len(v.(FindPage).Files) == 0 }},
		{path: "/api/tree", params: []string{"machine", "path"}, load: func(ctx context.Context, p params) (any, error) {
			dir, err := p.absPath("path")
			if err != nil {
				return nil, err
			}
			if dir == "" {
				dir = "/"
			}
			entries, err := cat.Tree(ctx, p.str("machine"), dir)
			return TreePage{Machine: p.str("machine"), Path: dir, Entries: entries}, err
		}, tags: machineOr},
		{path: "/api/lookup", params: []string{"hash"}, load: func(ctx context.Context, p params) (any, error) {
			if p.str("hash") == "" {
				return nil, badf("hash is missing; give an md5, sha1 or sha256 in hex")
			}
			return cat.Content(ctx, p.str("hash"))
		}, tags: tagged(dto.TagFiles)},
		{path: "/api/machines", load: func(ctx context.Context, p params) (any, error) {
			ms, err := cat.Machines(ctx)
			if ms == nil {
				ms = []string{}
			}
			return ms, err
		}, tags: tagged(dto.TagFiles), empty: func(v any) bool { return len(v.([]string)) == 0 }},
		{path: "/api/scans", params: []string{"limit"}, load: func(ctx context.Context, p params) (any, error) {
			n, err := p.integer("limit", 20, 1, maxLimit)
			if err != nil {
				return nil, err
			}
			return cat.RecentScans(ctx, n)
		}, tags: tagged(dto.TagScans)},
		{path: "/api/health", params: []string{"full"}, load: func(ctx context.Context, p params) (any, error) {
			full, err := p.boolean("full")
			if err != nil {
				return nil, err
			}
			return service.Health(ctx, cat.DB().Path(), s.cfg.DBOptions, full), nil
		}, tags: tagged(dto.TagFiles, dto.TagScans, dto.TagIndexes), finish: s.finishHealth, ownCatalog: true},
	}
}

// fail answers err with its status and one sentence.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var bad *badParam
	var badQuery *service.BadQueryError
	var down *unavailable
	status := http.StatusInternalServerError
	switch {
	case errors.As(err, &bad), errors.As(err, &badQuery):
		status = http.StatusBadRequest
	case errors.Is(err, service.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, db.ErrInUse), errors.Is(err, errScanRunning):
		status = http.StatusConflict
	case errors.As(err, &down), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), db.IsBusy(err), errors.Is(err, db.ErrClosed):
		status = http.StatusServiceUnavailable
	}
	if status >= 500 {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeError(w, status, err.Error())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, fmt.Sprintf("encode the answer: %v", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(map[string]string{"error": strings.ReplaceAll(msg, "\n", "; ")})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// decodeBody reads a JSON request body of at most limit bytes into v,
// refusing unknown fields.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badf("the request body is not the JSON object expected: %v", err)
	}
	return nil
}

// backup writes a backup into the catalog's backups directory.
func (s *Server) backup(w http.ResponseWriter, r *http.Request) {
	b, err := s.cfg.Catalog.Backup(r.Context(), "", false)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, b)
}

// restoreRequest is the body of POST /api/restore.
type restoreRequest struct {
	Source string `json:"source"`
}

// restore replaces the catalog with a backup from an allowed directory.
func (s *Server) restore(w http.ResponseWriter, r *http.Request) {
	var req restoreRequest
	if err := decodeBody(w, r, &req, 1<<20); err != nil {
		s.fail(w, r, err)
		return
	}
	src, err := s.restoreSource(req.Source)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := s.cfg.Catalog.Restore(r.Context(), src, service.RestoreOptions{})
	if errors.Is(err, db.ErrInUse) {
		s.fail(w, r, fmt.Errorf("the catalog is in use by a scan or another indexer process; try again when it finishes: %w", err))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// restoreSource resolves a restore source and checks that it lies in the
// catalog's backups directory or the --allow-restore-from one, symlinks
// resolved.
func (s *Server) restoreSource(src string) (string, error) {
	if src == "" || !filepath.IsAbs(src) {
		return "", badf("source %q is not an absolute path of a backup", src)
	}
	real, err := filepath.EvalSymlinks(src)
	if err != nil {
		return "", badf("restore source %s cannot be read: %v", src, err)
	}
	dirs := []string{service.BackupDir(s.cfg.Catalog.DB().Path())}
	if s.cfg.AllowRestoreFrom != "" {
		dirs = append(dirs, s.cfg.AllowRestoreFrom)
	}
	for _, d := range dirs {
		rd, err := filepath.EvalSymlinks(d)
		if err != nil {
			continue
		}
		if rel, err := filepath.Rel(rd, real); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
			return real, nil
		}
	}
	return "", badf("restore source %s is not in %s; start serve with --allow-restore-from DIR to allow another directory", src, strings.Join(dirs, " or "))
}
