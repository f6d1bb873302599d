package walk

import (
	"errors"
	"io/fs"
	"time"

	"golang.org/x/sys/unix"

	"github.com/indexer/indexer/internal/dto"
)

// Stat is what the scanner needs to know of a file system entry.
type Stat struct {
	Mode     fs.FileMode // type bits only
	Exec     bool        // the owner's execute permission bit
	Modified time.Time
	Created  time.Time // zero where the file system records no birth time
	dto.Validators
}

// IsRegular reports whether s is a regular file.
func (s Stat) IsRegular() bool { return s.Mode.IsRegular() }

// IsDir reports whether s is a directory.
func (s Stat) IsDir() bool { return s.Mode.IsDir() }

const statxMask = unix.STATX_TYPE | unix.STATX_MODE | unix.STATX_NLINK | unix.STATX_INO |
	unix.STATX_SIZE | unix.STATX_MTIME | unix.STATX_CTIME | unix.STATX_BTIME

// Lstat stats path without following a final symlink.
func Lstat(path string) (Stat, error) { return statx(unix.AT_FDCWD, path, unix.AT_SYMLINK_NOFOLLOW) }

// lstatAt stats name in the directory open as dirfd without following a
// final symlink; errors name path, the entry's full path.
func lstatAt(dirfd int, name, path string) (Stat, error) {
	st, err := statx(dirfd, name, unix.AT_SYMLINK_NOFOLLOW)
	var pe *fs.PathError
	if errors.As(err, &pe) {
		pe.Path = path
	}
	return st, err
}

// Follow stats path, following symlinks.
func Follow(path string) (Stat, error) { return statx(unix.AT_FDCWD, path, 0) }

// Fstat stats an open descriptor.
func Fstat(fd int) (Stat, error) { return statx(fd, "", unix.AT_EMPTY_PATH) }

func statx(dirfd int, path string, flags int) (Stat, error) {
	var sx unix.Statx_t
	for {
		err := unix.Statx(dirfd, path, flags|unix.AT_STATX_SYNC_AS_STAT, statxMask, &sx)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return Stat{}, &fs.PathError{Op: "stat", Path: path, Err: err}
		}
		break
	}
	s := Stat{
		Mode:     modeType(sx.Mode),
		Exec:     uint32(sx.Mode)&unix.S_IXUSR != 0,
		Modified: ts(sx.Mtime),
		Validators: dto.Validators{
			Size:    int64(sx.Size),
			MtimeNS: validatorNS(sx.Mtime),
			CtimeNS: validatorNS(sx.Ctime),
			Inode:   sx.Ino,
			Device:  unix.Mkdev(sx.Dev_major, sx.Dev_minor),
			Nlink:   uint64(sx.Nlink),
		},
	}
	if sx.Mask&unix.STATX_BTIME != 0 && (sx.Btime.Sec != 0 || sx.Btime.Nsec != 0) {
		s.Created = ts(sx.Btime)
	}
	return s, nil
}

func ts(t unix.StatxTimestamp) time.Time { return time.Unix(t.Sec, int64(t.Nsec)) }

// validatorNS is t in Unix nanoseconds, wrapping modulo 2^64 outside
// 1677-09-21 to 2262-04-11 (Go defines signed overflow as wrapping). The
// validators are only compared for equality, and two times that wrap to one
// value are 584 years apart; within that range it is the exact value, the
// one older catalogs hold.
func validatorNS(t unix.StatxTimestamp) int64 { return t.Sec*1e9 + int64(t.Nsec) }

func modeType(m uint16) fs.FileMode {
	switch uint32(m) & unix.S_IFMT {
	case unix.S_IFREG:
		return 0
	case unix.S_IFDIR:
		return fs.ModeDir
	case unix.S_IFLNK:
		return fs.ModeSymlink
	case unix.S_IFIFO:
		return fs.ModeNamedPipe
	case unix.S_IFSOCK:
		return fs.ModeSocket
	case unix.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		return fs.ModeDevice
	}
	return fs.ModeIrregular
}
