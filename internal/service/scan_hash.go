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
	var r io.Reader = &progressReader{ctx: ctx, r: f, p: p}
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

// progressReader counts bytes and stops the read when ctx is done.
type progressReader struct {
	ctx context.Context
	r   io.Reader
	p   *ScanProgress
}

func (r *progressReader) Read(b []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := r.r.Read(b)
	r.p.Bytes.Add(int64(n))
	return n, err
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
