package service

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/repo"
	"github.com/indexer/indexer/internal/uow"
	"github.com/indexer/indexer/internal/walk"
)

// known is what the catalog holds of a file before the scan.
type known struct {
	id     int64
	sha256 [32]byte // the content's digest; zero when the row was never hashed
	hashed bool
	op     dto.Operation
	v      dto.Validators
}

// walk walks every root and routes each file: unchanged ones are counted,
// the others go to the hash workers. The catalog is read one directory at a
// time, as the walk lists it (see group), so a rescan holds the rows of one
// directory, not of the whole tree.
func (s *scanRun) walk(ctx context.Context, jobs chan<- job, results chan<- result) error {
	defer s.flushUnchanged() // also when the walk stops early: they were seen
	wopts := walk.Options{FollowSymlinks: s.opts.FollowSymlinks, OneFileSystem: s.opts.OneFileSystem,
		Exclude: s.opts.Exclude, Own: s.own, Elsewhere: s.notWalked, Dir: func(dir string) error {
			s.closeGroup()
			s.listed[dir] = true
			s.dirs.add(dir)
			return s.openGroup(ctx, dir, func(r *uow.Repos, fn func(dto.FileMeta, []byte) error) error {
				return r.Files.EachValidatorsIn(ctx, s.opts.Machine, s.cat(dir), fn)
			})
		}}
	err := walk.Walk(ctx, s.rep.Roots, wopts, func(ev walk.Event) error {
		if ev.Kind == walk.File && ev.Path == ev.Root {
			// A root that is a file is a group of its own: its rows.
			s.closeGroup()
			s.rootFiles[ev.Path] = true
			if err := s.openGroup(ctx, ev.Path, func(r *uow.Repos, fn func(dto.FileMeta, []byte) error) error {
				return r.Files.EachValidatorsAt(ctx, s.opts.Machine, s.cat(ev.Path), fn)
			}); err != nil {
				return err
			}
			err := s.route(ctx, ev, jobs, results)
			s.closeGroup()
			return err
		}
		return s.route(ctx, ev, jobs, results)
	})
	s.closeGroup()
	return err
}

// openGroup reads the catalog's rows of the next group: the files directly
// in a directory listed, or a root that is a file. Every event for an entry
// of the group comes before the next group opens.
func (s *scanRun) openGroup(ctx context.Context, group string, read func(*uow.Repos, func(dto.FileMeta, []byte) error) error) error {
	s.group = group
	err := s.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		return read(r, func(m dto.FileMeta, sum []byte) error {
			m.Path = s.abs(m.Path)
			if m.Path != group && s.roots[m.Path] {
				return nil // a root of its own: its own group reads it
			}
			s.groupRows++
			k := &known{id: m.ID, op: m.Operation, v: m.Validators}
			k.hashed = copy(k.sha256[:], sum) == len(k.sha256)
			if m.ArchivePath == "" {
				s.known[m.Path] = k
			} else {
				s.knowEntry(m.Path, m.ArchivePath, k)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("read catalog: %w", err)
	}
	if testHookGroup != nil {
		n := len(s.known)
		for _, e := range s.entries {
			n += len(e)
		}
		testHookGroup(group, n)
	}
	return nil
}

// testHookGroup, nil outside tests, is called with each group read and the
// number of rows the scan then holds.
var testHookGroup func(group string, rows int)

// closeGroup queues for DEL the rows of the group that the walk did not
// find (they are marked only if the walk completes), and lets them go.
func (s *scanRun) closeGroup() {
	for path, k := range s.known {
		if k.op != dto.OpDel {
			s.gone = append(s.gone, goneRow{path: path, id: k.id})
			for _, e := range s.entries[path] { // a gone archive takes its entries along
				if e.op != dto.OpDel {
					s.gone = append(s.gone, goneRow{path: path, id: e.id})
				}
			}
		}
	}
	clear(s.known)
	clear(s.entries)
	s.group = ""
}

// goneRow is a row of a group that the walk did not find.
type goneRow struct {
	path string
	id   int64
}

// keepRow keeps the rows at path: the entry is there but was not looked at
// (or could not be). In the open group that takes them out of it; otherwise
// (a root's own event, or one met after its directory's listing) they are
// kept by path at the end.
func (s *scanRun) keepRow(path string) {
	if parentDir(path) == s.group {
		delete(s.known, path)
		return
	}
	s.keep[path] = true
}

// parentDir is the directory of a path from the walk: absolute and clean,
// so what precedes the last slash (filepath.Dir would clean it again).
func parentDir(path string) string {
	return path[:max(strings.LastIndexByte(path, '/'), 1)]
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
		s.keepRow(ev.Path)
		s.fail(ev.Path, cause(ev.Err))
		return nil
	case walk.Skip:
		s.skip(ev.Path, ev.Reason)
		if ev.Reason == walk.ReasonExcluded {
			s.exclude(ev) // its rows become DEL once the walk completes
			return nil
		}
		switch ev.Reason {
		case walk.ReasonSpecial, walk.ReasonDangling, walk.ReasonLinkIn:
			// Not a regular file here (any more), or one catalogued under
			// its own path: its own row, if any, is not of a file seen.
		default:
			// Still there, just not looked at: keep its row.
			s.keepRow(ev.Path)
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
	dir := parentDir(ev.Path)
	if cur := s.opts.Progress.dir.Load(); cur == nil || *cur != dir {
		s.opts.Progress.dir.Store(&dir)
	}
	k := s.known[ev.Path]
	delete(s.known, ev.Path)
	entries := s.entries[ev.Path]
	delete(s.entries, ev.Path)
	if k != nil && !s.opts.Rehash && k.op != dto.OpDel && k.hashed && k.v.Same(s.validators(ev.Stat.Validators)) {
		s.opts.Progress.unread.Add(ev.Stat.Size)
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

// markDeleted turns the files the catalog knew under the roots, and that the
// completed walk did not find, into DEL, except below directories that were
// not fully walked. The rows of the directories listed were compared as the
// walk went (s.gone); those of the directories it did not list (gone,
// unreadable, excluded) are found by one more pass over the rows under the
// roots, needed only when the catalog holds rows the groups did not read.
func (s *scanRun) markDeleted(ctx context.Context) error {
	if err := s.markExcluded(ctx); err != nil {
		return err
	}
	var ids []int64
	for _, g := range s.gone {
		// A directory listed lies below no symlink left unwalked: no
		// device and inode to check.
		if !s.keep[g.path] && !s.underProtected(g.path, 0, 0) {
			ids = append(ids, g.id)
		}
	}
	err := s.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		var total int64
		for _, root := range outermost(s.rep.Roots) {
			n, err := r.Files.CountUnder(ctx, s.opts.Machine, s.cat(root))
			if err != nil {
				return err
			}
			total += n
		}
		if total == s.groupRows+s.created {
			return nil // every row under the roots was in a group
		}
		for _, root := range outermost(s.rep.Roots) {
			if err := s.eachPresentUnder(ctx, r, root, func(row repo.PresentRow) error {
				id, path := row.ID, row.Path
				if s.rootFiles[path] || (s.listed[parentDir(path)] && !s.roots[path]) {
					return nil // compared in its group
				}
				if !s.keep[path] && !s.underProtected(path, row.Device, row.Inode) && !s.underExcluded(path) {
					ids = append(ids, id)
				}
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read catalog: %w", err)
	}
	ids = append(ids, s.goneEntries...)
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for start := 0; start < len(ids); start += deleteIDs {
		chunk := ids[start:min(start+deleteIDs, len(ids))]
		err := s.uow.Do(ctx, "scan.delete", func(ctx context.Context, r *uow.Repos) error {
			if err := r.Changes.RecordDeleted(ctx, chunk, s.rep.ID); err != nil {
				return err
			}
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
// above it. Below a symlink, only while path still leads to the file
// catalogued there (device and inode; 0 when unknown): a directory replaced
// by a symlink to a copy of it no longer holds that file, and keeping its
// row would make the file and its own copy look like two copies to dupes.
func (s *scanRun) underProtected(path string, dev, ino uint64) bool {
	for p := path; ; {
		if s.protected[p] || (p != path && s.below[p] && stillThere(p, path, dev, ino)) {
			return true
		}
		parent := filepath.Dir(p)
		if s.roots[p] || parent == p {
			return false
		}
		p = parent
	}
}

// stillThere reports whether path, below symlink link, still leads to the
// file of device dev and inode ino, or cannot be told: it is known gone only
// when it leads to another file, or to nothing while link itself leads
// somewhere (a link to an unmounted disk keeps its rows).
func stillThere(link, path string, dev, ino uint64) bool {
	st, err := walk.Follow(path)
	switch {
	case err == nil:
		return ino == 0 || (st.Device == dev && st.Inode == ino)
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
		_, err := walk.Follow(link)
		return err != nil
	default:
		return true
	}
}
