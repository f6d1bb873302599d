package service

// Live progress of a scan beyond the walk's counters: the totals a parallel
// count of the roots finds (scan_count.go), the bytes the scan accounts for
// without reading them, the files being read, and from these an ETA. The
// scan only adds to atomic counters and, per file read, takes a short lock
// twice; Snapshot does the arithmetic, for whoever displays it.

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// SlowAfter is how long one file must have been read before the progress
// names it.
const SlowAfter = time.Second

// progressMore is the part of ScanProgress that Snapshot reads.
type progressMore struct {
	start      atomic.Int64 // Unix nanoseconds the scan began, 0 before
	totalFiles atomic.Int64 // found by the count of the roots
	totalBytes atomic.Int64
	counted    atomic.Bool  // the count has completed
	unread     atomic.Int64 // sizes of files found unchanged, not read
	entryBytes atomic.Int64 // bytes hashed inside archives (not on disk; part of Bytes)

	mu    sync.Mutex
	reads map[*fileRead]struct{}
}

// fileRead is a file being hashed.
type fileRead struct {
	path  string
	size  int64 // as stat gave it; 0 for a pseudo-file that reports none
	start time.Time
	done  atomic.Int64
}

// SlowRead is a file whose read has taken SlowAfter or more.
type SlowRead struct {
	Path    string
	Size    int64 // 0 when the file reports no size
	Done    int64 // bytes read so far
	Elapsed time.Duration
}

// Percent is the share of the file read so far, 0 to 100, or -1 when its
// size is unknown.
func (r SlowRead) Percent() float64 {
	if r.Size <= 0 {
		return -1
	}
	return min(100, 100*float64(r.Done)/float64(r.Size))
}

// ProgressSnapshot is a scan's progress at one moment.
type ProgressSnapshot struct {
	Files   int64  // regular files met by the walk
	Bytes   int64  // bytes hashed, archive entries included
	Status  string // the directory the walk is in, or what the scan does after it
	Elapsed time.Duration
	// Counted is set once the count of the roots has completed; TotalFiles
	// and TotalBytes are its figures (regular files on disk, walked with the
	// scan's own options), and ETA is then an estimate of the time left.
	Counted    bool
	TotalFiles int64
	TotalBytes int64
	ETA        time.Duration
	// Slow is the file read the longest, once that read has taken SlowAfter;
	// nil otherwise.
	Slow *SlowRead
}

// Snapshot returns the progress as of now.
func (p *ScanProgress) Snapshot(now time.Time) ProgressSnapshot {
	s := ProgressSnapshot{Files: p.Files.Load(), Bytes: p.Bytes.Load(), Status: p.Status()}
	if start := p.start.Load(); start != 0 {
		s.Elapsed = max(0, now.Sub(time.Unix(0, start)))
	}
	if p.counted.Load() {
		s.Counted, s.TotalFiles, s.TotalBytes = true, p.totalFiles.Load(), p.totalBytes.Load()
		s.ETA = eta(s.Elapsed, s.Files, s.TotalFiles, s.Bytes-p.entryBytes.Load()+p.unread.Load(), s.TotalBytes)
	}
	p.mu.Lock()
	var oldest *fileRead
	for r := range p.reads {
		if oldest == nil || r.start.Before(oldest.start) {
			oldest = r
		}
	}
	if oldest != nil && now.Sub(oldest.start) >= SlowAfter {
		s.Slow = &SlowRead{Path: oldest.path, Size: oldest.size, Done: oldest.done.Load(), Elapsed: now.Sub(oldest.start)}
	}
	p.mu.Unlock()
	return s
}

// eta extrapolates elapsed by the share of the work done: the mean of the
// share of the counted files the walk has met and the share of the counted
// bytes accounted for (read, or found unchanged and not read). Files alone
// would say "nearly done" with one large file left to read; bytes alone
// would say "just begun" when a rescan has read nothing yet but walked most
// of the tree. It is 0 when nothing is done yet (no estimate) or all is.
func eta(elapsed time.Duration, files, totalFiles, bytes, totalBytes int64) time.Duration {
	share := func(done, total int64) float64 {
		if total <= 0 {
			return 1
		}
		return min(1, max(0, float64(done)/float64(total)))
	}
	f := (share(files, totalFiles) + share(bytes, totalBytes)) / 2
	if f <= 0 || f >= 1 {
		return 0
	}
	return time.Duration(float64(elapsed) * (1 - f) / f)
}

// begin records that the scan has started now, unless it began before (a
// scan split by volume begins once, with its first part).
func (p *ScanProgress) begin(now time.Time) { p.start.CompareAndSwap(0, now.UnixNano()) }

// startRead registers a file about to be read and returns it, for its
// progressReader and for endRead.
func (p *ScanProgress) startRead(path string, size int64) *fileRead {
	r := &fileRead{path: path, size: size, start: time.Now()}
	p.mu.Lock()
	if p.reads == nil {
		p.reads = map[*fileRead]struct{}{}
	}
	p.reads[r] = struct{}{}
	p.mu.Unlock()
	return r
}

// endRead forgets a file whose read is over.
func (p *ScanProgress) endRead(r *fileRead) {
	p.mu.Lock()
	delete(p.reads, r)
	p.mu.Unlock()
}

// progressReader counts bytes and stops the read when ctx is done. file,
// when set, is the file read; entry marks the bytes of an archive entry.
type progressReader struct {
	ctx   context.Context
	r     io.Reader
	p     *ScanProgress
	file  *fileRead
	entry bool
}

func (r *progressReader) Read(b []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := r.r.Read(b)
	r.count(n)
	return n, err
}

// count adds n bytes read to the progress.
func (r *progressReader) count(n int) {
	r.p.Bytes.Add(int64(n))
	if r.file != nil {
		r.file.done.Add(int64(n))
	}
	if r.entry {
		r.p.entryBytes.Add(int64(n))
	}
}
