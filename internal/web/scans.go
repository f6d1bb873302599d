package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/service"
	"github.com/indexer/indexer/internal/walk"
)

// errScanRunning is a second scan asked for while one runs: a 409.
var errScanRunning = errors.New("a scan is already running in this server; wait for it or cancel it")

// progressEvery is how often a running scan emits a progress event.
const progressEvery = 250 * time.Millisecond

// keepScans is how many finished scans keep their event logs.
const keepScans = 20

// scans runs the server's scans, one at a time, and keeps their events.
type scans struct {
	cat     *service.Catalog
	machine string
	log     *slog.Logger

	mu       sync.Mutex
	running  *scanJob
	jobs     map[int64]*scanJob
	order    []int64 // ids, oldest first
	stopping bool
	wg       sync.WaitGroup
}

// scanJob is one scan started through the API.
type scanJob struct {
	id       int64
	roots    []string
	started  time.Time
	cancel   context.CancelFunc
	progress *service.ScanProgress
	events   *eventLog
	failures int64 // guarded by scans.mu
	done     chan struct{}
	result   *dto.ScanResult // guarded by scans.mu
}

func newScans(cat *service.Catalog, machine string, log *slog.Logger) *scans {
	return &scans{cat: cat, machine: machine, log: log, jobs: map[int64]*scanJob{}}
}

// scanRequest is the body of POST /api/scans.
type scanRequest struct {
	Roots   []string `json:"roots"`
	Exclude []string `json:"exclude"`
	Rehash  bool     `json:"rehash"`
}

// progressEvent is what a progress event and the snapshot carry.
type progressEvent struct {
	ID      int64   `json:"id"`
	State   string  `json:"state"` // running or done
	Files   int64   `json:"files"`
	Bytes   int64   `json:"bytes"`
	Rate    float64 `json:"rate_bytes_s"`
	Current string  `json:"current"`
	Elapsed int64   `json:"elapsed_ms"`
	Failed  int64   `json:"failed"`
	// Counted is set once the parallel count of the roots has completed:
	// TotalFiles and TotalBytes are its figures and ETA (null before) the
	// estimated time left. Slow is the file read the longest, once its read
	// has taken a second (null otherwise).
	Counted    bool      `json:"counted"`
	TotalFiles int64     `json:"total_files"`
	TotalBytes int64     `json:"total_bytes"`
	ETA        *int64    `json:"eta_ms"`
	Slow       *slowRead `json:"slow"`
	// Result is the summary of a finished scan, in the snapshot.
	Result *dto.ScanResult `json:"result,omitempty"`
}

// slowRead is a file whose read has taken a second or more.
type slowRead struct {
	Path    string  `json:"path"`
	PathB64 string  `json:"path_b64,omitempty"`
	Size    int64   `json:"size"`
	Read    int64   `json:"bytes_read"`
	Percent float64 `json:"percent"` // -1 when the file reports no size
	Elapsed int64   `json:"elapsed_ms"`
}

// start begins a scan and returns once it has an id, or failed to start.
func (m *scans) start(req scanRequest) (int64, error) {
	if len(req.Roots) == 0 {
		return 0, badf("roots is empty; give at least one absolute path to scan")
	}
	for _, r := range req.Roots {
		if !filepath.IsAbs(r) {
			return 0, badf("root %q is not an absolute path", r)
		}
	}
	if err := walk.ValidatePatterns(req.Exclude); err != nil {
		return 0, badf("exclude: %v", err)
	}
	m.mu.Lock()
	if m.stopping {
		m.mu.Unlock()
		return 0, fmt.Errorf("the server is stopping: %w", context.Canceled)
	}
	if m.running != nil {
		m.mu.Unlock()
		return 0, errScanRunning
	}
	ctx, cancel := context.WithCancel(context.Background())
	j := &scanJob{roots: req.Roots, started: time.Now(), cancel: cancel, progress: &service.ScanProgress{},
		events: newEventLog(), done: make(chan struct{})}
	m.running = j
	m.wg.Add(1)
	m.mu.Unlock()

	started := make(chan int64, 1)
	failed := make(chan error, 1)
	go func() {
		defer m.wg.Done()
		defer cancel()
		err := m.run(ctx, j, req, started)
		m.mu.Lock()
		m.running = nil
		m.mu.Unlock()
		if j.id == 0 {
			failed <- err
		}
	}()
	select {
	case id := <-started:
		return id, nil
	case err := <-failed:
		if errors.Is(err, service.ErrNoRoots) {
			return 0, badf("%v", err)
		}
		return 0, err
	}
}

// run runs one scan, holding the catalog while it does, and publishes its
// events.
func (m *scans) run(ctx context.Context, j *scanJob, req scanRequest, started chan<- int64) error {
	defer close(j.done)
	release, err := m.cat.DB().Acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	tick := make(chan struct{})
	var ticker sync.WaitGroup
	rep, err := m.cat.Scan(ctx, req.Roots, service.ScanOptions{
		Machine: m.machine, Rehash: req.Rehash, Exclude: req.Exclude, Progress: j.progress,
		OnStart: func(id int64) {
			m.mu.Lock()
			j.id = id
			m.jobs[id] = j
			m.order = append(m.order, id)
			if len(m.order) > keepScans {
				delete(m.jobs, m.order[0])
				m.order = m.order[1:]
			}
			m.mu.Unlock()
			j.events.add("progress", m.snap(j))
			ticker.Go(func() {
				t := time.NewTicker(progressEvery)
				defer t.Stop()
				for {
					select {
					case <-tick:
						return
					case <-t.C:
						j.events.add("progress", m.snap(j))
					}
				}
			})
			// Never blocks: the scan goes on whether or not anyone still
			// waits for its id (the channel holds one).
			select {
			case started <- id:
			default:
			}
		},
		OnFailure: func(f service.Failure) {
			m.mu.Lock()
			j.failures++
			m.mu.Unlock()
			j.events.add("failure", dto.PathError{Path: f.Path, PathB64: dto.PathB64(f.Path), Error: f.Err.Error()})
		},
	})
	close(tick)
	ticker.Wait()
	if j.id == 0 {
		return err
	}
	res := rep.Result()
	m.mu.Lock()
	j.result = &res
	m.mu.Unlock()
	if err != nil && !errors.Is(err, context.Canceled) {
		m.log.Error("scan failed", "id", j.id, "err", err)
	}
	j.events.add("done", res)
	return err
}

// snapshot is the job's state now.
func (j *scanJob) snapshot() progressEvent {
	now := time.Now()
	el := now.Sub(j.started)
	ps := j.progress.Snapshot(now)
	p := progressEvent{ID: j.id, State: "running", Files: ps.Files, Bytes: ps.Bytes,
		Current: ps.Status, Elapsed: el.Milliseconds(), Failed: j.failures,
		Counted: ps.Counted, TotalFiles: ps.TotalFiles, TotalBytes: ps.TotalBytes}
	if s := el.Seconds(); s > 0 {
		p.Rate = float64(p.Bytes) / s
	}
	if ps.Counted && ps.ETA > 0 && j.result == nil {
		ms := ps.ETA.Milliseconds()
		p.ETA = &ms
	}
	if r := ps.Slow; r != nil && j.result == nil {
		p.Slow = &slowRead{Path: r.Path, PathB64: dto.PathB64(r.Path), Size: r.Size, Read: r.Done,
			Percent: r.Percent(), Elapsed: r.Elapsed.Milliseconds()}
	}
	if j.result != nil {
		p.State, p.Result = "done", j.result
	}
	return p
}

// snap is j.snapshot under the lock that guards its result and failures.
func (m *scans) snap(j *scanJob) progressEvent {
	m.mu.Lock()
	defer m.mu.Unlock()
	return j.snapshot()
}

// job returns the scan with id, if this server ran it recently.
func (m *scans) job(id int64) *scanJob {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.jobs[id]
}

// stop cancels a running scan as Ctrl-C does and waits for it to finish.
func (m *scans) stop() {
	m.mu.Lock()
	m.stopping = true
	if m.running != nil {
		m.running.cancel()
	}
	m.mu.Unlock()
	m.wg.Wait()
}

// startScan is POST /api/scans.
func (s *Server) startScan(w http.ResponseWriter, r *http.Request) {
	var req scanRequest
	if err := decodeBody(w, r, &req, 1<<20); err != nil {
		s.fail(w, r, err)
		return
	}
	id, err := s.scans.start(req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]int64{"id": id})
}

// scanID reads the {id} of a scans route.
func (s *Server) scanJob(w http.ResponseWriter, r *http.Request) *scanJob {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("scan id %q is not a positive number", r.PathValue("id")))
		return nil
	}
	j := s.scans.job(id)
	if j == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("scan %d was not started by this server, or too long ago", id))
	}
	return j
}

// cancelScan is DELETE /api/scans/{id}: it stops the scan as Ctrl-C does
// and answers once the scan has recorded what it did.
func (s *Server) cancelScan(w http.ResponseWriter, r *http.Request) {
	j := s.scanJob(w, r)
	if j == nil {
		return
	}
	select {
	case <-j.done:
		writeError(w, http.StatusConflict, fmt.Sprintf("scan %d is not running", j.id))
		return
	default:
	}
	j.cancel()
	select {
	case <-j.done:
	case <-r.Context().Done():
		return
	}
	s.scans.mu.Lock()
	res := j.result
	s.scans.mu.Unlock()
	writeJSON(w, http.StatusOK, res)
}

// scanEvents is GET /api/scans/{id}/events.
func (s *Server) scanEvents(w http.ResponseWriter, r *http.Request) {
	j := s.scanJob(w, r)
	if j == nil {
		return
	}
	j.events.stream(w, r, func() any { return s.scans.snap(j) })
}
