package service

import (
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/indexer/indexer/internal/archive"
	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/digest"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/repo"
	"github.com/indexer/indexer/internal/uow"
	"github.com/indexer/indexer/internal/walk"
)

// ScanOptions tune a scan.
type ScanOptions struct {
	Machine        string
	Workers        int // hash workers; 0 means one per CPU
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
	// OnStart, when set, is called with the scan's id once its row is
	// recorded, before any file is read.
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
}

// chunkFiles is how many files one write transaction carries; deleteIDs is
// how many files one transaction marks DEL (in statements of repo.ChunkSize
// ids each). Those are tiny updates, so more fit one commit.
const (
	chunkFiles = 200
	deleteIDs  = 2000
)

// deferIndexesAfter is how many files a scan adds before it sets the
// catalog's secondary indexes aside, if they are also at least a quarter of
// the rows the catalog held when the scan began. Measured with modernc's
// SQLite: a new row costs about 35 µs with the random-keyed indexes kept up
// to date and 7 µs without them, and building them again costs about 5 µs
// per row of the whole catalog. Setting them aside pays once the files added
// outnumber a fifth of the catalog; a quarter leaves a margin, and a scan
// that adds a few thousand files to a large catalog keeps them. A variable
// for tests.
var deferIndexesAfter int64 = 5000

// racyWindow: a file whose ctime is this close to the moment it was hashed
// may change again within the file system's timestamp granularity without
// its stat changing, so its validators are not trusted next time (git's
// "racily clean" rule).
const racyWindow = 100 * time.Millisecond

// known is what the catalog holds of a file before the scan.
type known struct {
	id     int64
	sha256 [32]byte // the content's digest; zero when the row was never hashed
	hashed bool
	op     dto.Operation
	v      dto.Validators
}

// job is a file for the hash workers.
type job struct {
	path   string
	st     walk.Stat
	known  *known
	follow bool // open through a final symlink: a root named by the user may be one
	// entries are the catalog's entries of the file, an archive, by inner path.
	entries map[string]*known
	read    *fileRead // the file as a reader read it; nil: the hash worker reads it
}

// result is a file for the writer: hashed, or failed.
type result struct {
	path  string
	st    walk.Stat
	hash  dto.FileHash
	known *known
	err   error
	// An archive entry has its inner path here (path is the archive's) and
	// its modification time from the archive.
	inner    string
	modified time.Time
}

// Test hooks, nil outside tests. testHookBeforeHash runs in a reader just
// before a file is opened; testHookReader may wrap the reader a file is
// hashed from, to change the file while it is being read.
var (
	testHookBeforeHash func(path string)
	testHookReader     func(path string, r io.Reader) io.Reader
)

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
		opts.Workers = runtime.NumCPU()
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
	s := &scanRun{
		c:         c,
		opts:      opts,
		uow:       c.uow.Fork(), // its own, so the metrics are this scan's
		known:     map[string]*known{},
		entries:   map[string]map[string]*known{},
		protected: map[string]bool{},
		below:     map[string]bool{},
		roots:     map[string]bool{},
		own:       catalogFiles(c.db.Path()),
		rep:       ScanReport{Roots: roots, Started: time.Now()},
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

	// Owned by the walker goroutine until it ends.
	known     map[string]*known
	entries   map[string]map[string]*known // archive entries: archive path → inner path → row
	protected map[string]bool              // directories not fully walked: nothing at or below them becomes DEL
	below     map[string]bool              // symlinks not walked through: nothing below them becomes DEL
	roots     map[string]bool              // the roots, where protection from above ends
	unchanged int64                        // files found unchanged, not yet counted
	own       func(walk.Stat) bool         // the catalog's own files, by identity
	dirs      dirWalk                      // the directories listed, for updateDirs

	// rowsAtStart bounds the catalog's rows when the scan began; deferred
	// is set once this scan has set the secondary indexes aside, which it
	// must build before it ends. Both belong to the writer while it runs.
	rowsAtStart int64
	deferred    bool

	mu          sync.Mutex // guards rep and goneEntries while the pipeline runs
	rep         ScanReport
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
	// Load what the catalog knows under the roots, so the walk can decide
	// "unchanged" without a query per file. The walk starts at once and holds
	// its events until the load is done: the two overlap.
	loaded := make(chan error, 1)
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad() // a walk that stopped early leaves no reader behind
	go func() { loaded <- s.loadKnown(loadCtx) }()

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
		if s.rep.ID, err = r.Scans.Create(ctx, dto.Scan{Machine: s.opts.Machine, Roots: s.rep.Roots, Started: s.rep.Started,
			Host: host, PID: os.Getpid()}); err != nil {
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
		<-loaded
		return s.rep, fmt.Errorf("record scan: %w", err)
	}
	defer runningHere.Delete(s.here())
	if s.opts.OnStart != nil {
		s.opts.OnStart(s.rep.ID)
	}

	walkErr := s.pipeline(ctx, wctx, loaded)
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
func (s *scanRun) pipeline(ctx, wctx context.Context, loaded <-chan error) error {
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
		return s.walk(gctx, loaded, jobs, results)
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

// walk walks every root and routes each file: unchanged ones are counted,
// the others go to the hash workers.
func (s *scanRun) walk(ctx context.Context, loaded <-chan error, jobs chan<- job, results chan<- result) error {
	defer s.flushUnchanged() // also when the walk stops early: they were seen
	wopts := walk.Options{FollowSymlinks: s.opts.FollowSymlinks, OneFileSystem: s.opts.OneFileSystem,
		Exclude: s.opts.Exclude, Own: s.own, Dir: s.dirs.add}
	// Held events go in chunks: one slice of them all would be copied
	// again and again as it grows, for a tree of a million files.
	var pending [][]walk.Event
	ready := false
	// await returns once the known rows are loaded (or at once, when block is
	// false and they are not), then handles the events held meanwhile.
	await := func(block bool) error {
		if ready {
			return nil
		}
		var err error
		if block {
			select {
			case err = <-loaded:
			case <-ctx.Done():
				return ctx.Err()
			}
		} else {
			select {
			case err = <-loaded:
			default:
				return nil
			}
		}
		ready = true
		if err != nil {
			return fmt.Errorf("read catalog: %w", err)
		}
		for _, chunk := range pending {
			for _, ev := range chunk {
				if err := s.route(ctx, ev, jobs, results); err != nil {
					return err
				}
			}
		}
		pending = nil
		return nil
	}
	err := walk.Walk(ctx, s.rep.Roots, wopts, func(ev walk.Event) error {
		if err := await(false); err != nil {
			return err
		}
		if !ready {
			if n := len(pending); n == 0 || len(pending[n-1]) == cap(pending[n-1]) {
				pending = append(pending, make([]walk.Event, 0, 4096))
			}
			pending[len(pending)-1] = append(pending[len(pending)-1], ev)
			return nil
		}
		return s.route(ctx, ev, jobs, results)
	})
	if err != nil {
		return err
	}
	return await(true)
}

// unchangedBatch is how many unchanged files the walker counts before it
// takes the report's lock.
const unchangedBatch = 256

// touch counts a file seen unchanged; it runs on the walker goroutine. An
// unchanged file costs the catalog nothing: its row keeps the scan that last
// changed it (so "what did scan N change" is a query on scan_id), and the
// scans table says which completed scan last covered it.
func (s *scanRun) touch() {
	s.unchanged++
	if s.unchanged >= unchangedBatch {
		s.flushUnchanged()
	}
}

// flushUnchanged adds the files counted unchanged to the report.
func (s *scanRun) flushUnchanged() {
	if s.unchanged > 0 {
		s.count(tally{}, s.unchanged)
		s.unchanged = 0
	}
}

// route handles one walk event: errors and skips go to the report, unchanged
// files are counted, the others go to the hash workers.
func (s *scanRun) route(ctx context.Context, ev walk.Event, jobs chan<- job, results chan<- result) error {
	switch ev.Kind {
	case walk.Error:
		// An entry that could not be stat'ed may be a directory (in a
		// directory that can be listed but not searched, every entry
		// fails so): nothing below it may become DEL.
		gone := errors.Is(ev.Err, fs.ErrNotExist) && ev.Path != ev.Root
		if ev.IsDir || !gone {
			s.protected[ev.Path] = true
		}
		if gone {
			return nil // gone between readdir and stat: simply not there
		}
		delete(s.known, ev.Path)
		s.fail(ev.Path, cause(ev.Err))
		return nil
	case walk.Skip:
		s.skip(ev.Path, ev.Reason)
		switch ev.Reason {
		case walk.ReasonSpecial, walk.ReasonDangling, walk.ReasonLinkIn:
			// Not a regular file here (any more), or one catalogued under
			// its own path: its own row, if any, is not of a file seen.
		default:
			// Still there, just not looked at: keep its row.
			delete(s.known, ev.Path)
		}
		switch {
		case ev.IsDir:
			s.protected[ev.Path] = true
		case ev.Link:
			// Whatever an earlier scan found through the link (named as a
			// PATH, or followed) was not looked at.
			s.below[ev.Path] = true
		}
		return nil
	}
	s.opts.Progress.Files.Add(1)
	// The walker's paths are absolute and clean: the directory is what
	// precedes the last slash (filepath.Dir would clean it again, per file).
	dir := ev.Path[:max(strings.LastIndexByte(ev.Path, '/'), 1)]
	if cur := s.opts.Progress.dir.Load(); cur == nil || *cur != dir {
		s.opts.Progress.dir.Store(&dir)
	}
	k := s.known[ev.Path]
	delete(s.known, ev.Path)
	entries := s.entries[ev.Path]
	delete(s.entries, ev.Path)
	if k != nil && !s.opts.Rehash && k.op != dto.OpDel && k.hashed && k.v.Same(ev.Stat.Validators) {
		s.touchEntries(entries)
		s.touch()
		return nil
	}
	select {
	case jobs <- job{path: ev.Path, st: ev.Stat, known: k, follow: s.opts.FollowSymlinks || ev.Path == ev.Root, entries: entries}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *scanRun) hashWorker(ctx context.Context, jobs <-chan job, results chan<- result) error {
	h := digest.New()
	for j := range jobs {
		st, sum, head, err := s.hashJob(ctx, h, j)
		if err == nil {
			// The file's own row goes after its entries, with validators
			// that make the next scan read it again if they fell short.
			var stop error
			if st, stop = s.indexArchive(ctx, h, j, st, head, results); stop != nil {
				return stop
			}
		}
		if err != nil && ctx.Err() != nil {
			return ctx.Err() // a read cut short by cancellation is not a result
		}
		// A file read to its end is handed over even after cancellation, so
		// that what was hashed is committed. The send cannot block for good:
		// the writer drains results until every producer has returned.
		results <- result{path: j.path, st: st, hash: sum, known: j.known, err: err}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// writer commits results in chunks. It returns an error only when the
// catalog cannot be written at all, and then calls abort at once; per-file
// failures go to the report.
func (s *scanRun) writer(ctx context.Context, results <-chan result, abort func()) error {
	var batch []result
	var fatal error
	flush := func() {
		if fatal == nil && len(batch) > 0 {
			if fatal = s.flush(ctx, batch); fatal != nil {
				abort()
			}
		}
		batch = batch[:0]
	}
	for r := range results {
		if fatal != nil {
			continue // drain so that producers never block
		}
		switch {
		case r.err != nil:
			s.fail(r.path, r.err)
		default:
			batch = append(batch, r)
		}
		if len(batch) >= chunkFiles {
			flush()
			s.maybeDeferIndexes(ctx)
		}
	}
	flush()
	return fatal
}

// maybeDeferIndexes sets the secondary indexes aside once this scan has
// added enough files for that to pay (see deferIndexesAfter). If that fails,
// the scan goes on with the indexes kept up to date.
func (s *scanRun) maybeDeferIndexes(ctx context.Context) {
	s.mu.Lock()
	added := s.rep.Counts.Added
	s.mu.Unlock()
	if s.deferred || added < deferIndexesAfter || added < s.rowsAtStart/4 {
		return
	}
	var n int
	err := s.uow.Do(ctx, "scan.defer_indexes", func(ctx context.Context, r *uow.Repos) error {
		var err error
		n, err = r.Indexes.Defer(ctx)
		return err
	})
	if err != nil {
		s.c.log.Warn("cannot set the catalog's indexes aside; they are kept up to date", "err", err)
		return
	}
	s.deferred = true
	s.c.log.Debug("indexes set aside until the scan ends", "indexes", n, "added", added)
}

// buildIndexes builds the indexes set aside: this scan's own, or those of a
// scan that died, when no other scan on the host may still be adding rows
// with them set aside. It runs however the scan ended, so that queries are
// fast again, one transaction per index, so that the write lock is let go
// between them. The scan's rows are committed whatever happens here: a
// failure is a warning, and a later scan builds what is left.
func (s *scanRun) buildIndexes(ctx context.Context, host string) {
	var names []string
	err := s.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		var err error
		if names, err = r.Indexes.Deferred(ctx); err != nil || len(names) == 0 || s.deferred {
			return err
		}
		running, err := r.Scans.RunningOn(ctx, host)
		if err != nil {
			return err
		}
		for id, owner := range running {
			if id != s.rep.ID && s.scanAlive(id, owner) {
				names = nil // it may be adding rows with them set aside: its job
			}
		}
		return nil
	})
	if err == nil && len(names) > 0 {
		start := time.Now()
		for i, name := range names {
			status := fmt.Sprintf("building catalog index %s (%d of %d)", name, i+1, len(names))
			s.opts.Progress.dir.Store(&status)
			if err = s.uow.Do(ctx, "scan.build_index", func(ctx context.Context, r *uow.Repos) error {
				return r.Indexes.Build(ctx, name)
			}); err != nil {
				break
			}
		}
		if err == nil {
			s.deferred = false
			s.c.log.Info("built the catalog's indexes", "indexes", names, "took", time.Since(start).Round(time.Millisecond))
		}
	}
	if err != nil {
		s.c.log.Warn("could not build the catalog's indexes; queries are slower until a later scan builds them", "err", err)
	}
}

// runningHere holds the scans this process runs, by catalog and scan id.
var runningHere sync.Map

type scanKey struct {
	catalog string
	id      int64
}

func (s *scanRun) here() scanKey { return scanKey{s.c.db.Path(), s.rep.ID} }

// scanAlive reports whether the scan id of this catalog, recorded as running
// by a process of this host, may still run. Its pid may have been reused:
// by this very process (in a container every run may be pid 1), which knows
// the scans it runs, or by a process that started after the scan began.
func (s *scanRun) scanAlive(id int64, owner repo.Owner) bool {
	if owner.PID == os.Getpid() {
		_, ok := runningHere.Load(scanKey{s.c.db.Path(), id})
		return ok
	}
	if started, ok := processStart(owner.PID); ok && started.After(owner.Started.Add(time.Second)) {
		return false
	}
	return processAlive(owner.PID)
}

// tally counts what a committed chunk did.
type tally struct{ added, modified, unchanged, bytes int64 }

func (s *scanRun) flush(ctx context.Context, batch []result) error {
	var t tally
	err := s.uow.Do(ctx, "scan.chunk", func(ctx context.Context, r *uow.Repos) error {
		t = tally{}
		return s.writeFiles(ctx, r, batch, &t, false)
	})
	if err == nil {
		s.count(t, 0)
		return nil
	}
	if isFatalWrite(err) {
		return fmt.Errorf("write to catalog: %w", err)
	}
	// One bad row must cost one file, not the chunk: retry each on its own.
	// A unique-key conflict is most often another scan having stored some
	// of these files since this one loaded the catalog: routine, not news.
	// What the retry cannot store is listed as a failure either way.
	if db.Kind(err) == "constraint" {
		s.c.log.Debug("chunk write met a constraint, retrying file by file", "files", len(batch), "err", err)
	} else {
		s.c.log.Warn("chunk write failed, retrying file by file", "files", len(batch), "err", err)
	}
	for i := range batch {
		var t tally
		err := s.uow.Do(ctx, "scan.file", func(ctx context.Context, r *uow.Repos) error {
			t = tally{}
			return s.writeFiles(ctx, r, batch[i:i+1], &t, true)
		})
		switch {
		case err == nil:
			s.count(t, 0)
		case isFatalWrite(err):
			return fmt.Errorf("write to catalog: %w", err)
		default:
			s.fail(entryPath(batch[i].path, batch[i].inner), fmt.Errorf("store in catalog: %w", err))
		}
	}
	return nil
}

// isFatalWrite tells errors that no per-file retry can cure: the catalog is
// locked, full, unwritable or damaged, or the context is done.
func isFatalWrite(err error) bool {
	switch db.Kind(err) {
	case "busy", "full", "ioerr", "corrupt", "canceled":
		return true
	}
	return errors.Is(err, db.ErrClosed) || errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EACCES)
}

// writeFiles stores batch. Files the catalog had no row of are inserted,
// the others upserted: a plain insert needs no statement journal, and is the
// bulk of a first scan. If another scan added one of them meanwhile, the
// insert fails on the unique key, and the per-file retry (upsert true)
// upserts every file.
func (s *scanRun) writeFiles(ctx context.Context, r *uow.Repos, batch []result, t *tally, upsert bool) error {
	if len(batch) == 0 {
		return nil
	}
	var fresh, known []dto.FileWithHash // rows to insert, rows to upsert
	for _, b := range batch {
		op := dto.OpAdd
		switch {
		case b.known == nil || b.known.op == dto.OpDel:
			t.added++
		case !b.known.hashed || hex.EncodeToString(b.known.sha256[:]) != b.hash.SHA256:
			op = dto.OpMod
			t.modified++
		default:
			op = b.known.op // same content: only the stat changed
			t.unchanged++
		}
		t.bytes += b.hash.Size
		f := dto.FileWithHash{Hash: b.hash}
		if b.inner != "" {
			f.FileMeta = s.entryMeta(b, op)
		} else {
			f.FileMeta = dto.FileMeta{
				Machine: s.opts.Machine, Path: b.path, Name: filepath.Base(b.path), Size: b.hash.Size,
				Created: b.st.Created, Modified: b.st.Modified, Scanned: s.rep.Started, Operation: op,
				ScanID: s.rep.ID, Validators: b.st.Validators,
			}
		}
		if b.known == nil && !upsert {
			fresh = append(fresh, f)
		} else {
			known = append(known, f)
		}
	}
	if err := r.Files.InsertMany(ctx, fresh); err != nil {
		return err
	}
	return r.Files.UpsertMany(ctx, known)
}

func (s *scanRun) count(t tally, touched int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &s.rep.Counts
	c.Added += t.added
	c.Modified += t.modified
	c.Unchanged += t.unchanged + touched
	c.BytesHashed += t.bytes
	c.FilesSeen += t.added + t.modified + t.unchanged + touched
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

// markDeleted turns the files the catalog knew under the roots, and that the
// completed walk did not find, into DEL, except below directories that were
// not fully walked.
func (s *scanRun) markDeleted(ctx context.Context) error {
	var ids []int64
	for path, k := range s.known {
		if k.op != dto.OpDel && !s.underProtected(path) {
			ids = append(ids, k.id)
			ids = appendPresent(ids, s.entries[path]) // a gone archive takes its entries along
		}
	}
	ids = append(ids, s.goneEntries...)
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for start := 0; start < len(ids); start += deleteIDs {
		chunk := ids[start:min(start+deleteIDs, len(ids))]
		err := s.uow.Do(ctx, "scan.delete", func(ctx context.Context, r *uow.Repos) error {
			return r.Files.MarkDeleted(ctx, s.opts.Machine, chunk, s.rep.ID, s.rep.Started)
		})
		if err != nil {
			return fmt.Errorf("record deletions: %w", err)
		}
		s.rep.Counts.Deleted += int64(len(chunk))
	}
	return nil
}

// underProtected reports whether path lies at or below a directory not
// fully walked, or below a symlink not walked through, within the deepest
// root that holds it: a root is walked on its own, whatever was skipped
// above it.
func (s *scanRun) underProtected(path string) bool {
	for p := path; ; {
		if s.protected[p] || (p != path && s.below[p]) {
			return true
		}
		parent := filepath.Dir(p)
		if s.roots[p] || parent == p {
			return false
		}
		p = parent
	}
}

func (s *scanRun) finish(ctx context.Context) error {
	m := s.uow.Metrics()
	sc := dto.Scan{ID: s.rep.ID, Finished: time.Now(), Status: s.rep.Status, ScanCounts: s.rep.Counts, TxMetrics: &m}
	err := s.uow.Do(ctx, "scan.finish", func(ctx context.Context, r *uow.Repos) error { return r.Scans.Finish(ctx, sc) })
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

// loadKnown reads the catalog's plain-file rows under the roots into s.known.
// When the last scan of the same roots saw at least half the rows the
// catalog has, they are read by a pass over the table (see
// repo.Files.EachValidatorsUnder).
func (s *scanRun) loadKnown(ctx context.Context) error {
	return s.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		seen, ok, err := r.Scans.LastSeen(ctx, s.opts.Machine, s.rep.Roots)
		if err != nil {
			return err
		}
		rows, err := r.Files.MaxFileID(ctx)
		if err != nil {
			return err
		}
		// One pass per root: with several roots the index reads less.
		whole := ok && seen >= rows/2 && len(s.rep.Roots) == 1
		// A root below another has its rows read with the outer one's.
		for _, root := range outermost(s.rep.Roots) {
			if err := r.Files.EachValidatorsUnder(ctx, s.opts.Machine, root, whole, func(m dto.FileMeta, sum []byte) error {
				k := &known{id: m.ID, op: m.Operation, v: m.Validators}
				k.hashed = copy(k.sha256[:], sum) == len(k.sha256)
				if m.ArchivePath == "" {
					s.known[m.Path] = k
				} else {
					s.knowEntry(m.Path, m.ArchivePath, k)
				}
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
}

// processStart returns when process pid started, where /proc tells
// (Linux): field 22 of /proc/PID/stat, in clock ticks (USER_HZ, 100 on
// Linux) after boot, whose time is btime in /proc/stat.
func processStart(pid int) (time.Time, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return time.Time{}, false
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return time.Time{}, false
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 20 {
		return time.Time{}, false
	}
	ticks, err := strconv.ParseInt(fields[19], 10, 64) // field 22 overall
	if err != nil {
		return time.Time{}, false
	}
	st, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, false
	}
	for line := range strings.Lines(string(st)) {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			boot, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, false
			}
			const userHZ = 100
			return time.Unix(boot, 0).Add(time.Duration(ticks) * time.Second / userHZ), true
		}
	}
	return time.Time{}, false
}

// processAlive reports whether a process with pid exists on this host. A
// process of another user answers EPERM: it exists.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
