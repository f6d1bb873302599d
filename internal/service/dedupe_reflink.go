package service

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/repo"
	"github.com/indexer/indexer/internal/walk"
)

// dedupeChunk is the most bytes asked of one FIDEDUPERANGE call: btrfs
// dedupes at most 16 MiB per call and says so by deduping less.
const dedupeChunk = 16 << 20

// errReflinkUnsupported is returned by dedupeRange when the file system
// cannot share extents.
var errReflinkUnsupported = errors.New("the file system cannot share extents (FIDEDUPERANGE is not supported)")

// errReflinkDiffers is returned by dedupeRange when the kernel found the
// bytes different.
var errReflinkDiffers = errors.New("differs from the kept file (the kernel compared them)")

// reflink makes the victim share the kept file's extents with
// FIDEDUPERANGE: the kernel locks both files, compares the bytes and
// shares them only if they are equal, so a file changed at the last moment
// is left as it is. The victim keeps its name, inode, mode and owner; its
// hard-link set is untouched.
func (a *applier) reflink(g *dto.DedupeGroup, kept keptFile, cp *dto.DedupeCopy, victim keptFile) {
	if !a.o.DryRun {
		if err := dedupeRange(kept, victim); err != nil {
			reason := "cannot share the kept file's extents: " + why(err)
			switch {
			case errors.Is(err, errReflinkDiffers):
				reason = errReflinkDiffers.Error()
			case errors.Is(err, errReflinkUnsupported):
				reason = "cannot share the kept file's extents: " + errReflinkUnsupported.Error()
			}
			a.skipCopy(cp, reason)
			return
		}
		for _, n := range cp.Names {
			if st, err := walk.Lstat(n.Path); err == nil {
				a.changes = append(a.changes, repo.DedupeChange{Path: n.Path, Validators: st.Validators, Modified: st.Modified})
			}
		}
	}
	for _, n := range cp.Names {
		a.rep.Applied++
		a.event(DedupeEvent{Action: ActionReflink, Path: n.Path, Kept: kept.path})
	}
	a.rep.BytesReclaimed += g.Size
}

// dedupeRange shares all of kept's extents with victim, looping on the
// bytes the kernel reports deduped.
func dedupeRange(kept, victim keptFile) error {
	src, reason := openVerified(kept)
	if reason != "" {
		return errors.New("the kept file " + reason)
	}
	defer src.Close()
	// The destination must be open for writing unless the caller owns it
	// (Linux 4.19 and later); read-only first, so no write access is needed
	// where none is required.
	dst, err := os.OpenFile(victim.path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer func() { dst.Close() }()
	if st, err := walk.Fstat(int(dst.Fd())); err != nil || st.Inode != victim.st.Inode || st.Device != victim.st.Device {
		return errors.New("was replaced")
	}
	var off int64
	for off < victim.st.Size {
		n := min(victim.st.Size-off, dedupeChunk)
		arg := unix.FileDedupeRange{Src_offset: uint64(off), Src_length: uint64(n),
			Info: []unix.FileDedupeRangeInfo{{Dest_fd: int64(dst.Fd()), Dest_offset: uint64(off)}}}
		err := unix.IoctlFileDedupeRange(int(src.Fd()), &arg)
		if errors.Is(err, unix.EBADF) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			// Not the owner: retry with the file open for writing.
			w, werr := os.OpenFile(victim.path, os.O_WRONLY|syscall.O_NOFOLLOW, 0)
			if werr != nil {
				return err
			}
			if st, serr := walk.Fstat(int(w.Fd())); serr != nil || st.Inode != victim.st.Inode {
				w.Close()
				return errors.New("was replaced")
			}
			dst.Close()
			dst = w
			continue
		}
		switch {
		case errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EXDEV):
			return errReflinkUnsupported
		case err != nil:
			return err
		}
		info := arg.Info[0]
		switch {
		case info.Status == unix.FILE_DEDUPE_RANGE_DIFFERS:
			return errReflinkDiffers
		case info.Status < 0:
			errno := syscall.Errno(-info.Status)
			if errno == unix.EOPNOTSUPP || errno == unix.EINVAL {
				return errReflinkUnsupported
			}
			return errno
		case info.Bytes_deduped == 0:
			return errors.New("the kernel deduped no bytes")
		}
		off += int64(info.Bytes_deduped)
	}
	return nil
}
