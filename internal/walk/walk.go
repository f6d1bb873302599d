package walk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
	Kind Kind
	Path string
	// Root is the root the entry was met under.
	Root  string
	Stat  Stat // valid for File, and for Skip where known
	IsDir bool // for Skip and Error: the entry is a directory
	// Link: for Skip, the entry is a symlink (followed or not); whatever
	// lies below its path was not walked through it.
	Link   bool
	Reason string // for Skip
	Err    error  // for Error
}

// Options tune a walk.
type Options struct {
	FollowSymlinks bool
	OneFileSystem  bool
	// Exclude holds glob patterns matched against each entry's base name and
	// its full path (filepath.Match syntax); a pattern ending in / matches
	// directories only. See ValidatePatterns.
	Exclude []string
	// Own, when set, reports entries that must not be read at all (the
	// catalog's own files), by their stat: they are reported as Skip with
	// ReasonCatalog. It is asked of every entry, roots included, and of
	// what a followed symlink leads to.
	Own func(Stat) bool
	// Elsewhere, when set, is asked of each directory below a root that
	// lies on another device than its parent directory (a mount point):
	// a non-empty answer is the reason it is not walked, reported as a
	// Skip with that Reason (a drive whose files are recorded apart).
	Elsewhere func(path string, st Stat) string
	// Dir, when set, is called with each directory listed, before its
	// entries are reported; every File, Skip and Error event for an entry
	// of it comes before the next call. The events of roots themselves, of
	// directories that cannot be listed and of the symlinks followed to
	// directories (ReasonLoop, ReasonSeen, ReasonOtherFS) come between
	// listings, outside any. A rescan reads the catalog's rows of each
	// directory at this call, not the whole tree's at once.
	Dir func(path string) error
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

// ValidatePatterns checks exclude patterns up front: a malformed one, or one
// that can never match anything, is an error that says why.
func ValidatePatterns(patterns []string) error {
	for _, p := range patterns {
		glob := strings.TrimSuffix(p, "/")
		if _, err := filepath.Match(glob, ""); err != nil {
			return fmt.Errorf("exclude pattern %q is malformed: %w", p, err)
		}
		if glob == "" {
			return fmt.Errorf("exclude pattern %q names nothing", p)
		}
		// A base name holds no /, and an absolute path starts with one.
		if strings.Contains(glob, "/") && !strings.HasPrefix(glob, "/") && !strings.HasPrefix(glob, "*") {
			return fmt.Errorf("exclude pattern %q can never match: a pattern holding a / is matched against whole absolute paths, so it must start with / (such as /home/me/%s)", p, glob)
		}
	}
	return nil
}

// excluded tells whether an entry matches an exclude pattern; a pattern
// ending in / matches only a directory.
func (o Options) excluded(path string, isDir bool) bool {
	base := filepath.Base(path)
	for _, p := range o.Exclude {
		glob, dirOnly := strings.CutSuffix(p, "/")
		if dirOnly && !isDir {
			continue
		}
		if ok, _ := filepath.Match(glob, base); ok {
			return true
		}
		if ok, _ := filepath.Match(glob, path); ok {
			return true
		}
	}
	return false
}

type devIno struct{ dev, ino uint64 }

func idOf(st Stat) devIno { return devIno{st.Device, st.Inode} }

// Walk walks roots (directories or single files), each depth first, and
// calls fn for every entry that is not a directory being descended into. A
// non-nil error from fn, or ctx being done, stops the walk and is returned;
// file system errors never stop it: they are Error events.
//
// Every root is walked, whatever the other roots, OneFileSystem and
// Exclude say: a root below another root is not entered by the walk of the
// outer one but walked as a root of its own, a root that is a symlink is
// followed, and neither exclusion nor the device test applies to a root
// itself. A root that is the very directory of another root (the same
// device and inode) is reported as ReasonSeen: the first root in the order
// given that is not a symlink walks it, else the first symlink.
//
// Entries are taken in sorted order, so no outcome depends on the order in
// which the file system lists a directory. A directory is walked once:
// under its path in the roots when it has one (directories are walked
// before any followed symlink), otherwise under the first followed symlink
// that reaches it, taking symlinks in the order the walk met them. Any
// other way to it is skipped as ReasonSeen; a symlink to a directory above
// it, on its own path, is skipped as ReasonLoop.
func Walk(ctx context.Context, roots []string, opts Options, fn func(Event) error) error {
	w := walker{ctx: ctx, opts: opts, fn: fn, roots: roots, isRoot: map[string]bool{}, seen: map[devIno]string{}}
	for _, r := range roots {
		w.isRoot[r] = true
	}
	if opts.FollowSymlinks {
		w.realRoots = realPaths(roots)
	}
	// Every root claims its directory first, so that the walk of another
	// root reaching it (a bind mount, a followed symlink) skips it. Roots
	// that are not symlinks claim before those that are: a directory named
	// twice is walked under its own path.
	type start struct {
		path string
		st   Stat
	}
	starts := make([]*start, len(roots))
	lstats := make([]Stat, len(roots))
	lerrs := make([]error, len(roots))
	for i, r := range roots {
		lstats[i], lerrs[i] = Lstat(r)
	}
	for _, links := range []bool{false, true} {
		for i, r := range roots {
			st, err := lstats[i], lerrs[i]
			isLink := err == nil && st.Mode&os.ModeSymlink != 0
			if isLink != links {
				continue
			}
			if isLink {
				// A root is followed: the user pointed at it.
				st, err = Follow(r)
			}
			switch {
			case err != nil:
				err = fn(Event{Kind: Error, Path: r, Root: r, Err: err})
			case opts.Own != nil && opts.Own(st):
				err = fn(Event{Kind: Skip, Path: r, Root: r, Stat: st, IsDir: st.IsDir(), Reason: ReasonCatalog})
			case !st.IsDir():
				starts[i] = &start{r, st}
			case w.seen[idOf(st)] != "":
				err = fn(Event{Kind: Skip, Path: r, Root: r, Stat: st, IsDir: true, Reason: ReasonSeen})
			default:
				w.seen[idOf(st)] = r
				starts[i] = &start{r, st}
			}
			if err != nil {
				return err
			}
		}
	}
	for _, s := range starts {
		if s == nil {
			continue // reported above
		}
		root := &rootDir{path: s.path, dev: s.st.Device}
		if !s.st.IsDir() {
			if err := w.nonDir(root, s.path, s.st, false); err != nil {
				return err
			}
			continue
		}
		w.stack = append(w.stack, &dir{path: s.path, st: s.st, root: root})
		if err := w.drain(); err != nil {
			return err
		}
	}
	// Then the symlinks to directories, followed in the order met; those
	// met meanwhile join the end of the queue.
	for i := 0; i < len(w.links); i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := w.follow(w.links[i]); err != nil {
			return err
		}
		w.links[i] = link{} // let what it holds go
		if err := w.drain(); err != nil {
			return err
		}
	}
	return nil
}

// rootDir is one root being walked.
type rootDir struct {
	path string
	dev  uint64 // for OneFileSystem
}

// dir is a directory to walk; parent is the one above it on its path, for
// telling symlink loops.
type dir struct {
	path   string
	st     Stat
	parent *dir
	root   *rootDir
}

// link is a followed symlink to a directory, waiting its turn.
type link struct {
	path   string
	target Stat
	parent *dir // the directory the link is in
}

type walker struct {
	ctx    context.Context
	opts   Options
	fn     func(Event) error
	roots  []string
	isRoot map[string]bool
	seen   map[devIno]string // directories walked or claimed by a root, with their path
	stack  []*dir
	links  []link
	// realRoots are the roots with every symlink resolved, as the targets
	// of followed links are: a symlink to a file below a root that is, or
	// passes through, a symlink is still a link inside the roots.
	realRoots []string
}

// drain walks the directories on the stack and all below them, depth
// first with an explicit stack, so that deep trees cannot exhaust anything.
func (w *walker) drain() error {
	for len(w.stack) > 0 {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		d := w.stack[len(w.stack)-1]
		w.stack = w.stack[:len(w.stack)-1]
		f, names, err := readNames(d.path)
		if err != nil {
			if err := w.fn(Event{Kind: Error, Path: d.path, Root: d.root.path, IsDir: true, Err: err}); err != nil {
				return err
			}
			continue
		}
		if w.opts.Dir != nil {
			if err := w.opts.Dir(d.path); err != nil {
				f.Close()
				return err
			}
		}
		n := len(w.stack)
		err = w.entries(f, d, names)
		f.Close()
		if err != nil {
			return err
		}
		// Pushed in sorted order, the subdirectories must be popped in it.
		slices.Reverse(w.stack[n:])
	}
	return nil
}

// entries handles the entries of one directory. They are stat'ed relative to
// the open directory, as find does: the kernel then resolves one name, not
// the whole path, for each.
func (w *walker) entries(f *os.File, d *dir, names []string) error {
	stats := statAll(int(f.Fd()), d.path, names)
	for i, name := range names {
		if err := w.entry(d, name, stats[i]); err != nil {
			return err
		}
	}
	return nil
}

// statParallel is how many entries of one directory are stat'ed at once.
// On a cold cache each stat may wait for the disk to read an inode, and the
// walk, one goroutine, would wait for them one by one; warm, the stats
// cost the same either way. Directories of fewer entries than statParallel
// are stat'ed in turn.
const statParallel = 16

type statResult struct {
	st  Stat
	err error
}

// statAll lstats names in the directory open as dirfd (whose path is dir).
func statAll(dirfd int, dir string, names []string) []statResult {
	out := make([]statResult, len(names))
	one := func(i int) {
		out[i].st, out[i].err = lstatAt(dirfd, names[i], join(dir, names[i]))
	}
	if len(names) < statParallel {
		for i := range names {
			one(i)
		}
		return out
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range statParallel {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(names); i = int(next.Add(1) - 1) {
				one(i)
			}
		})
	}
	wg.Wait()
	return out
}

func (w *walker) entry(d *dir, name string, sr statResult) error {
	p := join(d.path, name)
	if len(w.roots) > 1 && w.isRoot[p] {
		return nil // a root of its own: walked as one
	}
	ev := Event{Path: p, Root: d.root.path}
	skip := func(st Stat, reason string) error {
		ev.Kind, ev.Stat, ev.Reason = Skip, st, reason
		return w.fn(ev)
	}
	st, err := sr.st, sr.err
	if err != nil {
		ev.Kind, ev.Err = Error, err
		return w.fn(ev)
	}
	ev.IsDir = st.IsDir()
	ev.Link = st.Mode&os.ModeSymlink != 0
	if w.opts.Own != nil && w.opts.Own(st) {
		return skip(st, ReasonCatalog)
	}
	if len(w.opts.Exclude) > 0 && w.opts.excluded(p, st.IsDir()) {
		return skip(st, ReasonExcluded)
	}
	if !ev.Link {
		return w.handle(d, p, st, false)
	}
	if !w.opts.FollowSymlinks {
		return skip(st, ReasonSymlink)
	}
	target, err := Follow(p)
	switch {
	case errors.Is(err, syscall.ELOOP):
		return skip(st, ReasonLoop)
	case errors.Is(err, os.ErrNotExist):
		return skip(st, ReasonDangling)
	case err != nil:
		ev.Kind, ev.Err = Error, err
		return w.fn(ev)
	}
	ev.IsDir = target.IsDir()
	if w.opts.Own != nil && w.opts.Own(target) {
		return skip(target, ReasonCatalog)
	}
	if target.IsDir() {
		// Followed once every directory of the roots has been walked, so
		// that a directory is named by its own path where it has one.
		w.links = append(w.links, link{path: p, target: target, parent: d})
		return nil
	}
	if target.IsRegular() {
		if real, err := filepath.EvalSymlinks(p); err == nil && under(real, w.realRoots) {
			return skip(target, ReasonLinkIn)
		}
	}
	return w.nonDir(d.root, p, target, true)
}

// follow walks the directory a symlink leads to, unless it is a loop or
// the directory is walked already.
func (w *walker) follow(l link) error {
	id := idOf(l.target)
	for a := l.parent; a != nil; a = a.parent {
		if idOf(a.st) == id {
			return w.fn(Event{Kind: Skip, Path: l.path, Root: l.parent.root.path, Stat: l.target,
				IsDir: true, Link: true, Reason: ReasonLoop})
		}
	}
	return w.handle(l.parent, l.path, l.target, true)
}

// handle handles an entry of directory parent whose stat is known (for a
// followed symlink, isLink, its target's): a directory goes on the stack
// unless it is skipped.
func (w *walker) handle(parent *dir, path string, st Stat, isLink bool) error {
	if !st.IsDir() {
		return w.nonDir(parent.root, path, st, isLink)
	}
	skip := func(reason string) error {
		return w.fn(Event{Kind: Skip, Path: path, Root: parent.root.path, Stat: st, IsDir: true, Link: isLink, Reason: reason})
	}
	if w.opts.OneFileSystem && st.Device != parent.root.dev {
		return skip(ReasonOtherFS)
	}
	if w.opts.Elsewhere != nil && st.Device != parent.st.Device {
		if reason := w.opts.Elsewhere(path, st); reason != "" {
			return skip(reason)
		}
	}
	if w.seen[idOf(st)] != "" {
		return skip(ReasonSeen)
	}
	w.seen[idOf(st)] = path
	w.stack = append(w.stack, &dir{path: path, st: st, parent: parent, root: parent.root})
	return nil
}

// nonDir reports an entry that is not a directory.
func (w *walker) nonDir(root *rootDir, path string, st Stat, isLink bool) error {
	if st.IsRegular() {
		return w.fn(Event{Kind: File, Path: path, Root: root.path, Stat: st})
	}
	return w.fn(Event{Kind: Skip, Path: path, Root: root.path, Stat: st, Link: isLink, Reason: ReasonSpecial})
}

// under reports whether p is one of roots or lies below one.
func under(p string, roots []string) bool {
	for _, r := range roots {
		if p == r || strings.HasPrefix(p, strings.TrimSuffix(r, "/")+"/") {
			return true
		}
	}
	return false
}

// readNames opens a directory and lists it, sorted, without stat-ing its
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
	slices.Sort(names)
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
