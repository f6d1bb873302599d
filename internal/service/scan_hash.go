package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/indexer/indexer/internal/digest"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/walk"
)

// racyWindow: a file whose ctime is this close to the moment it was hashed
// may change again within the file system's timestamp granularity without
// its stat changing, so its validators are not trusted next time (git's
// "racily clean" rule).
const racyWindow = 100 * time.Millisecond

// job is a file for the hash workers.
type job struct {
	path   string
	st     walk.Stat
	known  *known
	follow bool // open through a final symlink: a root named by the user may be one
	// entries are the catalog's entries of the file, an archive, by inner path.
	entries map[string]*known
	read    *wholeRead // the file as a reader read it; nil: the hash worker reads it
	// opened is the file as the prefetcher opened it, for its reader, which
	// closes it; nil: the reader opens it.
	opened *fd
	// probe: the prefetcher left the file to its reader, which reads it
	// from the page cache first, to tell whether the tree is cached (see
	// cacheWarmth).
	probe bool
}

// Test hooks, nil outside tests. testHookBeforeHash runs in a reader just
// before a file is opened; testHookReader may wrap the reader a file is
// hashed from, to change the file while it is being read.
var (
	testHookBeforeHash func(path string)
	testHookReader     func(path string, r io.Reader) io.Reader
)

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

// ErrChanged is a file that kept changing while it was read.
var ErrChanged = errors.New("file changed while being read")

// ErrNotRegular is an entry that is no longer a regular file when opened.
var ErrNotRegular = errors.New("no longer a regular file")

// hashFile reads path once through md5, sha1 and sha256. The file is stat'ed
// through its descriptor before and after: if it changed meanwhile it is read
// once more, and if it changed again the error is ErrChanged, so a hash of
// mixed content is never returned.
func hashFile(ctx context.Context, path string, follow bool, p *ScanProgress) (walk.Stat, dto.FileHash, error) {
	st, sum, _, err := hashFileHead(ctx, digest.New(), path, follow, p)
	return st, sum, err
}

// hashFileHead is hashFile with the caller's Hasher, and also returns the
// file's first bytes (digest.HeadSize at most), valid until h is Reset: the
// scan tells archives by them without opening every file twice.
func hashFileHead(ctx context.Context, h *digest.Hasher, path string, follow bool, p *ScanProgress) (walk.Stat, dto.FileHash, []byte, error) {
	return hashFileTries(ctx, h, path, follow, p, 2)
}

// hashFileTries is hashFileHead reading the file at most tries times.
func hashFileTries(ctx context.Context, h *digest.Hasher, path string, follow bool, p *ScanProgress, tries int) (walk.Stat, dto.FileHash, []byte, error) {
	for attempt := 1; ; attempt++ {
		st, sum, err := hashOnce(ctx, path, follow, h, p)
		if err != ErrChanged || attempt >= tries {
			if err == nil && st.CtimeNS >= time.Now().Add(-racyWindow).UnixNano() {
				st.CtimeNS = 0 // racily clean: read it again next time
			}
			return st, sum, h.Head(), err
		}
	}
}

func hashOnce(ctx context.Context, path string, follow bool, h *digest.Hasher, p *ScanProgress) (walk.Stat, dto.FileHash, error) {
	f, before, err := openRegular(path, follow)
	if err != nil {
		return walk.Stat{}, dto.FileHash{}, err
	}
	defer f.Close()
	h.Reset()
	read := p.startRead(path, before.Size) // scan_progress.go: names a slow read
	defer p.endRead(read)
	var r io.Reader = &progressReader{ctx: ctx, r: f, p: p, file: read}
	if before.Size > 0 {
		// Stop at the size stat gave, saving the read(2) that would only
		// say EOF: a file that grows or shrinks meanwhile changes its stat,
		// which the check below catches. Size 0 reads to EOF, for the
		// pseudo-files that report no size.
		r = io.LimitReader(r, before.Size)
	}
	if testHookReader != nil {
		r = testHookReader(path, r)
	}
	n, err := h.ReadFrom(r)
	if err != nil {
		return walk.Stat{}, dto.FileHash{}, describe(err)
	}
	after, err := walk.Fstat(f.fd)
	if err != nil {
		return walk.Stat{}, dto.FileHash{}, describe(err)
	}
	// A file that reports size 0 was read to EOF (pseudo-files); only its
	// stat can tell that it changed.
	if !before.Validators.Same(after.Validators) || (before.Size > 0 && n != after.Size) {
		return walk.Stat{}, dto.FileHash{}, ErrChanged
	}
	return after, h.Sum(), nil
}

// describe strips the path and op from an *os.PathError, since the report
// names the file already: "permission denied", "input/output error". A file
// missing when its worker opens it was there during the walk: it vanished.
func describe(err error) error {
	err = cause(err)
	if errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("vanished before it could be read: %w", err)
	}
	return err
}

// cause is the error of an *os.PathError without its path and op.
func cause(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// fd is a file descriptor read directly with read(2).
type fd struct {
	fd   int
	path string
}

func openFD(path string, flags int) (*fd, error) {
	for {
		n, err := syscall.Open(path, flags, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: path, Err: err}
		}
		return &fd{fd: n, path: path}, nil
	}
}

func (f *fd) Read(b []byte) (int, error) {
	for {
		n, err := syscall.Read(f.fd, b)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return 0, &os.PathError{Op: "read", Path: f.path, Err: err}
		case n == 0 && len(b) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

func (f *fd) Close() error { return syscall.Close(f.fd) }
