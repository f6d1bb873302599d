package walk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Kind says what an Event reports.
type Kind int

// The kinds of events.
const (
	// File is a regular file to index.
	File Kind = iota
	// Skip is an entry deliberately not indexed; Reason says why. When the
	// entry is a directory, nothing below it was walked.
	Skip
	// Error is an entry that could not be examined; when it is a directory,
	// nothing below it was walked.
	Error
)

// Skip reasons.
const (
	ReasonSymlink  = "symlink"
	ReasonSpecial  = "not a regular file"
	ReasonExcluded = "excluded"
	ReasonCatalog  = "the catalog's own file"
	ReasonOtherFS  = "on another file system"
	ReasonLoop     = "symlink loop"
	ReasonDangling = "dangling symlink"
	ReasonSeen     = "directory already walked"
	ReasonLinkIn   = "symlink to a file indexed under its own path"
)

// Event is one entry the walk met.
type Event struct {
	Kind   Kind
	Path   string
	Stat   Stat   // valid for File, and for Skip where known
	IsDir  bool   // for Skip and Error: the entry is a directory
	Reason string // for Skip
	Err    error  // for Error
}

// Options tune a walk.
type Options struct {
	FollowSymlinks bool
	OneFileSystem  bool
	// Exclude holds glob patterns matched against each entry's base name and
	// its full path (filepath.Match syntax).
	Exclude []string
	// Ignore reports paths that must not be touched at all (the catalog's own
	// files); they are reported as Skip with ReasonCatalog.
	Ignore func(path string) bool
	// Visited, when set, is shared by the walks of several roots, so that a
	// directory reached from two roots (through a symlink) is walked once.
	Visited *Visited
	// Roots are all the roots of the scan. With FollowSymlinks, a symlink to
	// a file that lies below one of them is skipped (ReasonLinkIn): the file
	// is indexed under its own path, and one file must not look like two
	// copies of itself. The link's target and the roots are compared with
	// every symlink resolved, so a root that is or passes through a symlink
	// counts too.
	Roots []string
}

// Visited is a set of directories walked.
type Visited struct{ m map[devIno]bool }

// NewVisited returns an empty set.
func NewVisited() *Visited { return &Visited{m: map[devIno]bool{}} }

// under reports whether p is one of roots or lies below one.
func under(p string, roots []string) bool {
	for _, r := range roots {
		if p == r || strings.HasPrefix(p, strings.TrimSuffix(r, "/")+"/") {
			return true
		}
	}
	return false
}

// ValidatePatterns checks exclude patterns up front.
func ValidatePatterns(patterns []string) error {
	for _, p := range patterns {
		if _, err := filepath.Match(p, ""); err != nil {
			return fmt.Errorf("exclude pattern %q is malformed: %w", p, err)
		}
	}
	return nil
}

func (o Options) excluded(path string) bool {
	base := filepath.Base(path)
	for _, p := range o.Exclude {
		if ok, _ := filepath.Match(p, base); ok {
			return true
		}
		if ok, _ := filepath.Match(p, path); ok {
			return true
		}
	}
	return false
}

type devIno struct{ dev, ino uint64 }

// Walk walks root (a directory or a single file) depth first and calls fn for
// every entry that is not a directory being descended into. A non-nil error
// from fn, or ctx being done, stops the walk and is returned; file system
// errors never stop it: they are Error events.
func Walk(ctx context.Context, root string, opts Options, fn func(Event) error) error {
	if opts.Visited == nil {
		opts.Visited = NewVisited()
	}
	w := walker{ctx: ctx, opts: opts, fn: fn, seen: opts.Visited.m}
	if opts.FollowSymlinks {
		w.realRoots = realPaths(opts.Roots)
	}
	st, err := Lstat(root)
	if err != nil {
		return fn(Event{Kind: Error, Path: root, Err: err})
	}
	if st.Mode&os.ModeSymlink != 0 {
		// A root named on the command line is followed: the user pointed at it.
		if st, err = Follow(root); err != nil {
			return fn(Event{Kind: Error, Path: root, Err: err})
		}
	}
	w.rootDev = st.Device
	return w.visit(root, st)
}

type walker struct {
	ctx     context.Context
	opts    Options
	fn      func(Event) error
	rootDev uint64
	seen    map[devIno]bool // directories walked, against loops through symlinks
	// realRoots are opts.Roots with every symlink resolved, as the targets
	// of followed links are.
	realRoots []string
}

// realPaths returns paths with their symlinks resolved; a path that cannot
// be resolved (it does not exist) is kept as it is.
func realPaths(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = p
		if r, err := filepath.EvalSymlinks(p); err == nil {
			out[i] = r
		}
	}
	return out
}

// visit handles one entry whose stat is known; directories are descended
// into with an explicit stack so that deep trees cannot exhaust anything.
func (w *walker) visit(path string, st Stat) error {
	type dir struct {
		path string
		st   Stat
	}
	var stack []dir
	handle := func(path string, st Stat) error {
		switch {
		case st.IsDir():
			if w.opts.OneFileSystem && st.Device != w.rootDev {
				return w.fn(Event{Kind: Skip, Path: path, IsDir: true, Stat: st, Reason: ReasonOtherFS})
			}
			key := devIno{st.Device, st.Inode}
			if w.seen[key] {
				return w.fn(Event{Kind: Skip, Path: path, IsDir: true, Stat: st, Reason: ReasonSeen})
			}
			w.seen[key] = true
			stack = append(stack, dir{path, st})
			return nil
		case st.IsRegular():
			return w.fn(Event{Kind: File, Path: path, Stat: st})
		default:
			return w.fn(Event{Kind: Skip, Path: path, Stat: st, Reason: ReasonSpecial})
		}
	}
	if err := handle(path, st); err != nil {
		return err
	}
	for len(stack) > 0 {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		d := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		dir, names, err := readNames(d.path)
		if err != nil {
			if err := w.fn(Event{Kind: Error, Path: d.path, IsDir: true, Err: err}); err != nil {
				return err
			}
			continue
		}
		err = w.entries(dir, d.path, names, handle)
		dir.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// entries handles the entries of one directory. They are stat'ed relative to
// the open directory, as find does: the kernel then resolves one name, not
// the whole path, for each.
func (w *walker) entries(dir *os.File, dirPath string, names []string, handle func(string, Stat) error) error {
	fd := int(dir.Fd())
	for _, name := range names {
		p := join(dirPath, name)
		if err := w.entry(fd, name, p, handle); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) entry(dirfd int, name, p string, handle func(string, Stat) error) error {
	if w.opts.Ignore != nil && w.opts.Ignore(p) {
		return w.fn(Event{Kind: Skip, Path: p, Reason: ReasonCatalog})
	}
	st, err := lstatAt(dirfd, name, p)
	if err != nil {
		return w.fn(Event{Kind: Error, Path: p, Err: err})
	}
	if len(w.opts.Exclude) > 0 && w.opts.excluded(p) {
		return w.fn(Event{Kind: Skip, Path: p, IsDir: st.IsDir(), Stat: st, Reason: ReasonExcluded})
	}
	if st.Mode&os.ModeSymlink != 0 {
		if !w.opts.FollowSymlinks {
			return w.fn(Event{Kind: Skip, Path: p, Stat: st, Reason: ReasonSymlink})
		}
		target, err := Follow(p)
		switch {
		case errors.Is(err, syscall.ELOOP):
			return w.fn(Event{Kind: Skip, Path: p, Stat: st, Reason: ReasonLoop})
		case errors.Is(err, os.ErrNotExist):
			return w.fn(Event{Kind: Skip, Path: p, Stat: st, Reason: ReasonDangling})
		case err != nil:
			return w.fn(Event{Kind: Error, Path: p, Err: err})
		}
		if target.IsDir() && w.seen[devIno{target.Device, target.Inode}] {
			return w.fn(Event{Kind: Skip, Path: p, IsDir: true, Stat: target, Reason: ReasonLoop})
		}
		if target.IsRegular() && len(w.realRoots) > 0 {
			if real, err := filepath.EvalSymlinks(p); err == nil && under(real, w.realRoots) {
				return w.fn(Event{Kind: Skip, Path: p, Stat: target, Reason: ReasonLinkIn})
			}
		}
		st = target
	}
	return handle(p, st)
}

// readNames opens a directory and lists it without sorting or stat-ing its
// entries. The caller closes the returned directory.
func readNames(path string) (*os.File, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	names, err := f.Readdirnames(-1)
	if err != nil {
		f.Close()
		return nil, nil, &os.PathError{Op: "readdir", Path: path, Err: unwrapPath(err)}
	}
	return f, names, nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// join is filepath.Join for a clean directory path and a name read from it
// (never empty, ".", ".." or holding a slash): without Join's cleaning, which
// costs more than the rest of a walk step.
func join(dir, name string) string {
	if strings.HasSuffix(dir, "/") {
		return dir + name
	}
	return dir + "/" + name
}
