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
	"sort"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/uow"
	"github.com/indexer/indexer/internal/walk"
)

// exclude records an entry the walk skipped as excluded; it runs on the
// walker goroutine.
func (s *scanRun) exclude(ev walk.Event) {
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
// excluded entries, and takes them out of s.known, so that markDeleted does
// not count them as files found gone. It runs after a completed walk.
func (s *scanRun) markExcluded(ctx context.Context) error {
	if len(s.excluded) == 0 {
		return nil
	}
	var ids []int64
	for path, k := range s.known {
		if s.underExcluded(path) && !s.underProtected(path) {
			delete(s.known, path)
			if k.op != dto.OpDel {
				ids = append(ids, k.id)
			}
			ids = appendPresent(ids, s.entries[path]) // its entries go with it
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
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
