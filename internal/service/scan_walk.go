package service

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"

	"github.com/indexer/indexer/internal/dto"
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
// the others go to the hash workers.
func (s *scanRun) walk(ctx context.Context, loaded <-chan error, jobs chan<- job, results chan<- result) error {
	defer s.flushUnchanged() // also when the walk stops early: they were seen
	wopts := walk.Options{FollowSymlinks: s.opts.FollowSymlinks, OneFileSystem: s.opts.OneFileSystem,
		Exclude: s.opts.Exclude, Own: s.own}
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
			return r.Files.MarkDeleted(ctx, chunk, s.rep.ID, s.rep.Started)
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
