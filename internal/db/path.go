package db

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// ErrNotRegular is returned by CatalogPath for a catalog path that names a
// directory, a device, a FIFO or a socket.
var ErrNotRegular = errors.New("not a regular file")

// ErrUnknownScheme is returned for a catalog location that looks like a URL
// (scheme://...) of a scheme indexer does not know.
var ErrUnknownScheme = errors.New("indexer does not know the scheme")

// URLScheme returns the scheme, lower-cased, of a catalog location that
// looks like a URL (a scheme of letters, digits, '+', '-' or '.', starting
// with a letter, then "://"), and "" for anything else: a file path.
func URLScheme(location string) string {
	scheme, _, ok := strings.Cut(location, "://")
	if !ok || scheme == "" {
		return ""
	}
	for i, c := range scheme {
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (i == 0 || !('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return ""
		}
	}
	return strings.ToLower(scheme)
}

// Redact returns location with the password of a URL replaced by "xxxxx",
// for messages; a file path is returned as it is.
func Redact(location string) string {
	if URLScheme(location) == "" {
		return location
	}
	u, err := url.Parse(location)
	if err != nil {
		return URLScheme(location) + "://..."
	}
	return u.Redacted()
}

// checkScheme refuses a location that looks like a URL of a scheme indexer
// does not know: without it, "mysql://host/db" would be taken for a file
// path and a folder "mysql:" made in the current directory.
func checkScheme(location string) error {
	switch s := URLScheme(location); {
	case IsPostgres(location):
		return fmt.Errorf("catalog %s: %w", Redact(location), ErrServer)
	case s != "":
		return fmt.Errorf("catalog %s is a URL, and %w %q; give a file path or a postgres:// URL", Redact(location), ErrUnknownScheme, s)
	}
	return nil
}

// maxLinks bounds how many symlinks CatalogPath follows, as Linux does.
const maxLinks = 40

// CatalogPath returns the absolute path of the catalog file that path names,
// every symlink resolved, the last one included even when what it points to
// does not exist yet. The catalog, its lock file and its backups are all named
// from this one path: two names of one catalog share one lock, and a restore
// replaces the file a link points to, not the link.
//
// The file must be a regular file or absent. Anything else (a directory, a
// device, a FIFO, a socket) is refused with an error that names it and matches
// ErrNotRegular, before anything is created or opened.
//
// A path that looks like a URL of a scheme indexer does not know is refused
// with an error matching ErrUnknownScheme; a PostgreSQL URL with one matching
// ErrServer.
func CatalogPath(path string) (string, error) {
	if err := checkScheme(path); err != nil {
		return "", err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("resolve catalog path %s: %w", path, err)
	}
	p, err := resolve(abs)
	if err != nil {
		return "", fmt.Errorf("resolve catalog path %s: %w", abs, err)
	}
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return p, nil
	case err != nil:
		return "", fmt.Errorf("catalog path %s: %w", p, err)
	case !fi.Mode().IsRegular():
		name := p
		if p != abs {
			name = abs + " (a link to " + p + ")"
		}
		return "", fmt.Errorf("catalog path %s is %s, %w", name, FileKind(fi.Mode()), ErrNotRegular)
	}
	return p, nil
}

// FileKind names the type of a file, with its article: "a directory", "a
// FIFO", "a regular file".
func FileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	case m.IsRegular():
		return "a regular file"
	}
	return "a special file"
}

// resolve follows every symlink in the absolute path p, the last component's
// too when its target does not exist.
func resolve(p string) (string, error) {
	for range maxLinks {
		dir, err := resolveDir(filepath.Dir(p))
		if err != nil {
			return "", err
		}
		p = filepath.Join(dir, filepath.Base(p))
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) || (err == nil && fi.Mode()&fs.ModeSymlink == 0) {
			return p, nil
		}
		if err != nil {
			return "", err
		}
		target, err := os.Readlink(p)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(dir, target)
		}
		p = filepath.Clean(target)
	}
	return "", &fs.PathError{Op: "resolve", Path: p, Err: syscall.ELOOP}
}

// resolveDir is filepath.EvalSymlinks for a directory that may not exist
// yet: the part of it that exists is resolved and the rest, which cannot hold
// a link, is kept.
func resolveDir(dir string) (string, error) {
	r, err := filepath.EvalSymlinks(dir)
	if err == nil {
		return r, nil
	}
	parent := filepath.Dir(dir)
	if !errors.Is(err, fs.ErrNotExist) || parent == dir {
		return "", err
	}
	r, err = resolveDir(parent)
	if err != nil {
		return "", err
	}
	return filepath.Join(r, filepath.Base(dir)), nil
}

// sideSuffixes name the files kept beside a catalog: SQLite's logs and
// shared memory, and indexer's lock file.
var sideSuffixes = []string{"-wal", "-shm", "-journal", ".lock"}

// Files returns the names of the catalog file at path (as CatalogPath
// returns it) and of the files beside it that belong to it: its -wal, -shm,
// -journal and lock file, whether they exist or not.
func Files(catalog string) []string {
	out := []string{catalog}
	for _, s := range sideSuffixes {
		out = append(out, catalog+s)
	}
	return out
}

// OwnFile reports whether path names one of the files of the catalog at
// catalog (Files): by device and inode when path exists, so that another name
// or a hard link of it counts, and by its resolved path when it does not yet.
// It returns the file of the catalog's that path is.
func OwnFile(catalog, path string) (string, bool, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", false, err
	}
	fi, err := os.Stat(abs)
	if err == nil {
		for _, f := range Files(catalog) {
			if ci, err := os.Stat(f); err == nil && os.SameFile(fi, ci) {
				return f, true, nil
			}
		}
		return "", false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, err
	}
	p, err := resolve(abs)
	if err != nil {
		return "", false, err
	}
	for _, f := range Files(catalog) {
		if p == f {
			return f, true, nil
		}
	}
	return "", false, nil
}
