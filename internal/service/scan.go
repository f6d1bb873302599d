package service

// A scan is a pipeline, one stage a file:
//   - scan.go: options, report, and the orchestration (Scan, run, pipeline).
//   - scan_walk.go: the catalog's known rows, the walk's routing of each
//     entry (unchanged, to hash, failed, skipped), and what becomes DEL.
//   - scan_hash.go: the hash workers, reading each file once.
//   - scan_archive.go: the entries of archives.
//   - scan_write.go: the writer, committing 200-file chunks with a per-file
//     fallback.
//   - scan_indexes.go: secondary indexes set aside during large scans.
//   - scan_owner.go: whether a scan recorded as running is still alive.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/indexer/indexer/internal/archive"
	"github.com/indexer/indexer/internal/digest"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/uow"
	"github.com/indexer/indexer/internal/volume"
	"github.com/indexer/indexer/internal/walk"
)

// ScanOptions tune a scan.
type ScanOptions struct {
	Machine        string
	Workers        int // hash workers; 0 means one per CPU, or digest.Streams() if more
	Readers        int // files read at once; 0: by the disk (scan_read.go)
	Rehash         bool
	FollowSymlinks bool
	OneFileSystem  bool
	Exclude        []string
	// Archives: also index the regular entries of the archives met
	// (recognised by content), within ArchiveLimits (zero: the defaults).
	// See scan_archive.go.
	Archives      bool
	ArchiveLimits archive.Limits
	// Progress, when not nil, is updated as the scan goes; read it from
	// another goroutine.
	Progress *ScanProgress
	// NoTotals: nobody shows Progress's totals or ETA, so the roots are not
	// counted for them (a second walk, which an unchanged rescan of small
	// files pays for: 8% of its CPU on a million files).
	NoTotals bool
	// Volume says which roots are recorded relative to their volume
	// (scan_volume.go); the zero value is VolumeAuto.
	Volume VolumeMode
	// OnStart, when set, is called once per Scan, with the id of its first
	// part's scan row once that row is recorded, before any file is read; a
	// scan split by volume (several rows) does not call it again.
	OnStart func(id int64)
	// OnFailure, when set, is called with each file that could not be
	// indexed, as it fails, from the goroutine that met it: it must be quick.
	OnFailure func(Failure)
}

// ScanProgress is live progress, safe to read while the scan runs.
type ScanProgress struct {
	Files atomic.Int64 // regular files met by the walk
	Bytes atomic.Int64 // bytes hashed
	dir   atomic.Pointer[string]

	progressMore // totals, ETA and slow reads: scan_progress.go
}

// Status returns the directory the walk is in, or what the scan does once
// the walk is over.
func (p *ScanProgress) Status() string {
	if d := p.dir.Load(); d != nil {
		return *d
	}
	return ""
}

// Failure is a file that could not be indexed.
type Failure struct {
	Path string
	Err  error
}

// Skip is an entry deliberately not indexed.
type Skip struct {
	Path   string
	Reason string
}

// ScanReport is the outcome of a scan.
type ScanReport struct {
	ID       int64
	Roots    []string
	Status   dto.ScanStatus
	Counts   dto.ScanCounts
	Started  time.Time
	Duration time.Duration
	Failures []Failure
	Skips    []Skip

	// ArchiveEntries is how many of Counts.FilesSeen are archive entries.
	ArchiveEntries int64
	// ExcludedGone is how many rows of excluded files were marked DEL.
	ExcludedGone int64

	// Volumes are the volumes whose files were recorded relative to
	// them, each by a scan of its own: Parts are those scans' ids beside
	// ID (the first).
	Volumes []ScanVolume
	Parts   []int64
}

// ErrNoRoots is returned when no root could be examined at all.
var ErrNoRoots = errors.New("no path given could be scanned")

// Scan walks roots, hashes new and changed regular files, and brings the
// catalog in step with the disk for opts.Machine. Per-file problems are in the
// report, not errors; the returned error means the scan itself failed (the
// catalog could not be written, or ctx was canceled: then the report says
// interrupted and what was hashed is committed).
func (c *Catalog) Scan(ctx context.Context, roots []string, opts ScanOptions) (ScanReport, error) {
	if opts.Machine == "" {
		return ScanReport{}, errors.New("scan: machine name is empty")
	}
	if err := walk.ValidatePatterns(opts.Exclude); err != nil {
		return ScanReport{}, err
	}
	if opts.Workers <= 0 {
		opts.Workers = max(runtime.NumCPU(), digest.Streams())
	}
	if opts.Progress == nil {
		opts.Progress = &ScanProgress{}
	}
	roots, err := normalizeRoots(roots)
	if err != nil {
		return ScanReport{}, err
	}
	// A scan where no root exists is a mistake, not a partial success.
	var firstErr error
	reachable := 0
	for _, r := range roots {
		if _, err := os.Stat(r); err != nil {
			firstErr = cmp.Or(firstErr, err)
			continue
		}
		reachable++
	}
	if reachable == 0 {
		return ScanReport{}, fmt.Errorf("%w: %w", ErrNoRoots, describeRoot(firstErr))
	}
	parts, err := c.splitByVolume(ctx, roots, opts)
	if err != nil {
		return ScanReport{}, err
	}
	// Each part is a scan of its own (a row of scans, under its machine);
	// the report adds them up. OnStart is the whole scan's, so it is called
	// for the first part only.
	if onStart := opts.OnStart; onStart != nil {
		var once sync.Once
		opts.OnStart = func(id int64) { once.Do(func() { onStart(id) }) }
	}
	var total ScanReport
	for i, p := range parts {
		o := opts
		o.Machine = p.machine
		rep, err := c.scanPart(ctx, p, o)
		if i == 0 {
			total = rep
		} else {
			total.add(rep)
		}
		if p.vol != nil {
			total.Volumes = append(total.Volumes, ScanVolume{Machine: p.machine, UUID: p.vol.UUID, Label: p.vol.Label,
				FSType: p.vol.FSType, MountPoint: p.vol.MountPoint, Roots: p.roots})
		}
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// add adds the report of another part of the scan to r: its counts, roots,
// failures and skips; the worse status stands.
func (r *ScanReport) add(o ScanReport) {
	r.Roots = append(r.Roots, o.Roots...)
	r.Counts.Add(o.Counts)
	r.Failures = append(r.Failures, o.Failures...)
	r.Skips = append(r.Skips, o.Skips...)
	r.ArchiveEntries += o.ArchiveEntries
	r.ExcludedGone += o.ExcludedGone
	r.Duration = time.Since(r.Started)
	if statusRank(o.Status) > statusRank(r.Status) {
		r.Status = o.Status
	}
	r.Parts = append(r.Parts, o.ID)
}

// statusRank orders the statuses of a scan's parts, worst last.
func statusRank(s dto.ScanStatus) int {
	return slices.Index([]dto.ScanStatus{dto.ScanComplete, dto.ScanPartial, dto.ScanInterrupted, dto.ScanFailed}, s)
}

// scanPart scans the roots of one part, under its machine.
func (c *Catalog) scanPart(ctx context.Context, p scanPart, opts ScanOptions) (ScanReport, error) {
	roots := p.roots
	s := &scanRun{
		c:           c,
		opts:        opts,
		uow:         c.uow.Fork(), // its own, so the metrics are this scan's
		known:       map[string]*known{},
		entries:     map[string]map[string]*known{},
		listed:      map[string]bool{},
		rootFiles:   map[string]bool{},
		keep:        map[string]bool{},
		protected:   map[string]bool{},
		below:       map[string]bool{},
		roots:       map[string]bool{},
		own:         catalogFiles(c.db.Path()),
		rep:         ScanReport{Roots: roots, Started: time.Now()},
		vol:         p.vol,
		infos:       p.infos,
		elsewhere:   p.elsewhere,
		fingerprint: p.fingerprint,
	}
	for _, r := range roots {
		s.roots[r] = true
	}
	return s.run(ctx)
}

type scanRun struct {
	c    *Catalog
	opts ScanOptions
	uow  *uow.UoW
	// cache: whether the files read are in the page cache already, for the
	// prefetcher (scan_read.go).
	cache cacheWarmth
	// vol is the volume whose files this scan records relative to it (nil:
	// by absolute path); infos the file systems of the roots.
	vol   *volume.Volume
	infos []dto.ScanRoot
	// elsewhere: the devices of volumes recorded apart, not walked into
	// (scanPart.elsewhere).
	elsewhere map[uint64]string
	// fingerprint: the volume's, recorded with it (scanPart.fingerprint).
	fingerprint string

	// Owned by the walker goroutine until it ends. known and entries hold
	// the rows of one group (a directory listed, or a root that is a file).
	known     map[string]*known
	entries   map[string]map[string]*known // archive entries: archive path → inner path → row
	group     string                       // the directory whose rows known holds, or the root file
	groupRows int64                        // rows read by all groups
	listed    map[string]bool              // the directories listed
	rootFiles map[string]bool              // the roots that are files, read as groups
	keep      map[string]bool              // rows met outside their group but kept (not looked at)
	gone      []goneRow                    // rows of the groups not found: DEL if the walk completes
	protected map[string]bool              // directories not fully walked: nothing at or below them becomes DEL
	below     map[string]bool              // symlinks not walked through: nothing below them becomes DEL
	roots     map[string]bool              // the roots, where protection from above ends
	unchanged int64                        // files found unchanged, not yet counted
	own       func(walk.Stat) bool         // the catalog's own files, by identity
	dirs      dirWalk                      // the directories listed, for updateDirs

	// excluded holds entries --exclude matched whose rows no group held
	// (directories, mostly); excludedRows the rows a group held. Both
	// become DEL once the walk completes (scan_exclude.go).
	excluded     map[string]bool
	excludedRows []goneRow

	// rowsAtStart bounds the catalog's rows when the scan began; deferred
	// is set once this scan has set the secondary indexes aside, which it
	// must build before it ends. Both belong to the writer while it runs.
	rowsAtStart int64
	deferred    bool

	mu          sync.Mutex   // guards rep, created and goneEntries while the pipeline runs
	chunks      sync.RWMutex // see chunkLock
	rep         ScanReport
	created     int64   // rows this scan created (files the catalog had no row of)
	goneEntries []int64 // entries no longer in their (re-read) archive: DEL once the walk completes
}

func (s *scanRun) run(ctx context.Context) (ScanReport, error) {
	// A restore through this same catalog object must wait for the scan:
	// its later transactions refer to row ids read at the start.
	release, err := s.c.db.Hold()
	if err != nil {
		return s.rep, err
	}
	defer release()
	wctx := context.WithoutCancel(ctx) // commits of finished work survive Ctrl-C
	host, _ := os.Hostname()
	err = s.uow.Do(wctx, "scan.start", func(ctx context.Context, r *uow.Repos) error {
		// A scan killed with SIGKILL could not record its end: if its
		// process is gone, say so now.
		running, err := r.Scans.RunningOn(ctx, host)
		if err != nil {
			return err
		}
		for id, owner := range running {
			if !s.scanAlive(id, owner) {
				if err := r.Scans.MarkInterrupted(ctx, id, s.rep.Started); err != nil {
					return err
				}
			}
		}
		if s.rowsAtStart, err = r.Files.MaxFileID(ctx); err != nil {
			return err
		}
		if s.rep.ID != 0 { // a retry: the row of the last attempt was rolled back
			runningHere.Delete(s.here())
		}
		if s.rep.ID, err = r.Scans.Create(ctx, dto.Scan{Machine: s.opts.Machine, Roots: s.catalogRoots(), Started: s.rep.Started,
			Host: host, PID: os.Getpid()}); err != nil {
			return err
		}
		if err := s.recordVolume(ctx, r, host); err != nil {
			return err
		}
		// Known as this process's before any other scan can see the row.
		runningHere.Store(s.here(), true)
		return nil
	})
	if err != nil {
		if s.rep.ID != 0 {
			runningHere.Delete(s.here())
		}
		return s.rep, fmt.Errorf("record scan: %w", err)
	}
	defer runningHere.Delete(s.here())
	if s.opts.OnStart != nil {
		s.opts.OnStart(s.rep.ID)
	}

	stopCount := s.countRoots(ctx) // scan_count.go: the totals of the progress's ETA
	walkErr := s.pipeline(ctx, wctx)
	stopCount()
	interrupted := ctx.Err() != nil
	var fatal error
	if walkErr != nil && !interrupted {
		fatal = walkErr
	}
	if fatal == nil && !interrupted {
		if err := s.markDeleted(wctx); err != nil {
			fatal = err
		}
	}
	s.buildIndexes(wctx, host)
	if fatal == nil { // else the catalog cannot be written: the next scan does it
		s.updateDirs(wctx, !interrupted)
	}

	s.rep.Duration = time.Since(s.rep.Started)
	switch {
	case fatal != nil:
		s.rep.Status = dto.ScanFailed
	case interrupted:
		s.rep.Status = dto.ScanInterrupted
	case s.rep.Counts.Failed > 0:
		s.rep.Status = dto.ScanPartial
	default:
		s.rep.Status = dto.ScanComplete
	}
	finishErr := s.finish(wctx)
	switch {
	case fatal != nil:
		return s.rep, fatal
	case interrupted:
		return s.rep, ctx.Err()
	}
	return s.rep, finishErr
}

// pipeline runs walker → hash workers → one writer. It returns the first
// error that stopped it (ctx's when interrupted).
func (s *scanRun) pipeline(ctx, wctx context.Context) error {
	// abort stops the walker and the hash workers when the writer cannot
	// write at all: there is no use reading the rest of the tree then.
	ctx, abort := context.WithCancel(ctx)
	defer abort()
	g, gctx := errgroup.WithContext(ctx)
	jobs := make(chan job, s.opts.Workers*4)
	results := make(chan result, 512)

	var producers sync.WaitGroup
	producers.Add(1 + s.opts.Workers)
	go func() { producers.Wait(); close(results) }()

	g.Go(func() error {
		defer producers.Done()
		defer close(jobs)
		return s.walk(gctx, jobs, results)
	})
	read := s.readAhead(g, gctx, jobs)
	for range s.opts.Workers {
		g.Go(func() error {
			defer producers.Done()
			return s.hashWorker(gctx, read, results)
		})
	}
	// The writer drains results to the end even after cancellation, and
	// commits on wctx, so that everything hashed is kept.
	writerErr := make(chan error, 1)
	go func() { writerErr <- s.writer(wctx, results, abort) }()
	gerr := g.Wait()
	werr := <-writerErr
	if werr != nil {
		return werr
	}
	return gerr
}

func (s *scanRun) send(ctx context.Context, results chan<- result, r result) error {
	select {
	case results <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *scanRun) count(t tally, touched int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &s.rep.Counts
	c.Added += t.added
	c.Modified += t.modified
	c.Unchanged += t.unchanged + touched
	c.BytesHashed += t.bytes
	s.created += t.created
	c.FilesSeen += t.added + t.modified + t.unchanged + touched
	s.rep.ArchiveEntries += t.entries
}

func (s *scanRun) fail(path string, err error) {
	s.c.log.Info("cannot index", "path", path, "err", err)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rep.Counts.Failed++
	s.rep.Failures = append(s.rep.Failures, Failure{Path: path, Err: err})
	if s.opts.OnFailure != nil {
		s.opts.OnFailure(Failure{Path: path, Err: err})
	}
}

func (s *scanRun) skip(path, reason string) {
	s.c.log.Debug("skipped", "path", path, "reason", reason)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rep.Counts.Skipped++
	s.rep.Skips = append(s.rep.Skips, Skip{Path: path, Reason: reason})
}

func (s *scanRun) finish(ctx context.Context) error {
	m := s.uow.Metrics()
	sc := dto.Scan{ID: s.rep.ID, Finished: time.Now(), Status: s.rep.Status, ScanCounts: s.rep.Counts, TxMetrics: &m}
	err := s.uow.Do(ctx, "scan.finish", func(ctx context.Context, r *uow.Repos) error {
		// The scan's chunks each left a row of content totals on
		// PostgreSQL: fold them, and whatever other writers left, so
		// that stats sums a few rows. scans first, then content_totals:
		// the order a restore locks them in (db/transfer.go).
		if err := r.Scans.Finish(ctx, sc); err != nil {
			return err
		}
		return r.Files.FoldContentTotals(ctx)
	})
	if err != nil {
		return fmt.Errorf("record scan result: %w", err)
	}
	return nil
}

// normalizeRoots makes roots absolute and clean, sorts them and drops
// repeats. A root below another root is kept: the walk walks it as a root
// of its own, whatever the outer root's walk would have done with it.
func normalizeRoots(roots []string) ([]string, error) {
	if len(roots) == 0 {
		return nil, ErrNoRoots
	}
	abs := make([]string, 0, len(roots))
	for _, r := range roots {
		a, err := filepath.Abs(r)
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", r, err)
		}
		abs = append(abs, a)
	}
	sort.Strings(abs)
	return slices.Compact(abs), nil
}

// outermost returns the roots (sorted) that lie below no other root.
func outermost(roots []string) []string {
	// Sorted, a root comes after every root it lies below, but not always
	// right after one: "/a-x" sorts between "/a" and "/a/b". So each is
	// checked against every root kept.
	var out []string
next:
	for _, a := range roots {
		for _, kept := range out {
			if a == kept || strings.HasPrefix(a, strings.TrimSuffix(kept, "/")+"/") {
				continue next
			}
		}
		out = append(out, a)
	}
	return out
}

// catalogFiles returns a predicate for the catalog's own files, told by
// device and inode, not by name: the database, its -wal, -shm, -journal
// and .lock files, and its backups folder, as they are when the scan
// starts. A user's file whose name merely starts like the catalog's is not
// one of them; a hard link to one, or a path through a symlink, is. Reading
// the database or its -shm in-process would drop this process's SQLite
// locks on it (closing any descriptor of a file drops them).
func catalogFiles(dbPath string) func(walk.Stat) bool {
	ids := map[[2]uint64]bool{}
	for _, p := range []string{dbPath, dbPath + "-wal", dbPath + "-shm", dbPath + "-journal", dbPath + ".lock", BackupDir(dbPath)} {
		if st, err := walk.Follow(p); err == nil {
			ids[[2]uint64{st.Device, st.Inode}] = true
		}
	}
	return func(st walk.Stat) bool { return ids[[2]uint64{st.Device, st.Inode}] }
}

// describeRoot words a root's stat error as "PATH: cause".
func describeRoot(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}
