package service

// Excluded entries in the scan. An entry an --exclude pattern matches is
// not looked at, and what the catalog holds of it (the file, or everything
// below the directory or symlink, archive entries included) is marked DEL
// once the walk has completed: excluded files stop looking present, in
// dupes, find, stats and lookup alike, without a new state for the
// files.operation CHECK (which would need a rebuild of the whole table),
// and forget --deleted purges them like any DEL row. A later scan without
// the pattern finds them again as ADD.
//
// The rules of DEL hold: nothing becomes DEL in an interrupted or failed
// scan, nor below a directory not fully walked, and the marking stops at a
// PATH named on the command line (its own walk decides for its files).

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sort"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/repo"
	"github.com/indexer/indexer/internal/uow"
	"github.com/indexer/indexer/internal/walk"
)

// exclude records an entry the walk skipped as excluded; it runs on the
// walker goroutine. A file of the directory being compared (the open group)
// leaves the group at once, its rows kept aside to be marked at the end;
// anything else (a directory, whose rows no group reads, or a root's own
// event) is remembered by path for markExcluded to find its rows.
func (s *scanRun) exclude(ev walk.Event) {
	if parentDir(ev.Path) == s.group {
		if k := s.known[ev.Path]; k != nil {
			delete(s.known, ev.Path)
			if k.op != dto.OpDel {
				s.excludedRows = append(s.excludedRows, goneRow{path: ev.Path, id: k.id})
			}
			for _, e := range s.entries[ev.Path] { // its entries go with it
				if e.op != dto.OpDel {
					s.excludedRows = append(s.excludedRows, goneRow{path: ev.Path, id: e.id})
				}
			}
			delete(s.entries, ev.Path)
			return
		}
	}
	if s.excluded == nil {
		s.excluded = map[string]bool{}
	}
	s.excluded[ev.Path] = true
}

// underExcluded reports whether path is, or lies below, an excluded entry
// within the deepest root that holds it.
func (s *scanRun) underExcluded(path string) bool {
	for p := path; ; {
		if s.excluded[p] {
			return true
		}
		parent := filepath.Dir(p)
		if s.roots[p] || parent == p {
			return false
		}
		p = parent
	}
}

// markExcluded marks DEL the present rows the catalog holds at or below the
// excluded entries, except where the walk could not see (underProtected)
// and below a PATH named on its own. It runs after a completed walk, before
// markDeleted looks for files gone, which leaves these rows to it.
func (s *scanRun) markExcluded(ctx context.Context) error {
	var ids []int64
	for _, g := range s.excludedRows {
		if !s.underProtected(g.path, 0, 0) {
			ids = append(ids, g.id)
		}
	}
	if len(s.excluded) > 0 {
		paths := make([]string, 0, len(s.excluded))
		for p := range s.excluded {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		err := s.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
			for _, p := range paths {
				if err := r.Files.EachPresentUnder(ctx, s.opts.Machine, p, func(row repo.PresentRow) error {
					if s.underExcluded(row.Path) && !s.underProtected(row.Path, row.Device, row.Inode) {
						ids = append(ids, row.ID)
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
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	ids = slices.Compact(ids) // an excluded entry below another lists its rows twice
	for start := 0; start < len(ids); start += deleteIDs {
		chunk := ids[start:min(start+deleteIDs, len(ids))]
		err := s.uow.Do(ctx, "scan.exclude", func(ctx context.Context, r *uow.Repos) error {
			return r.Files.MarkDeleted(ctx, s.opts.Machine, chunk, s.rep.ID, s.rep.Started)
		})
		if err != nil {
			return fmt.Errorf("record excluded files as gone: %w", err)
		}
		s.rep.ExcludedGone += int64(len(chunk))
	}
	return nil
}
