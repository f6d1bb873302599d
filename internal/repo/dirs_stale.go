package repo

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/dto"
)

// Changes made outside a scan (forget, a file-by-file merge) change the
// rows below directories whose digests and stored entries (dirs.entries)
// were computed from the old rows. These make such directories, and all
// those above them, hold no digest until a scan computes them again, so
// that no query answers from a stale one.

// ancestors returns the directories at and above each of paths.
func ancestors(paths []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range paths {
		for q := p; !seen[q]; q = filepath.Dir(q) {
			seen[q] = true
			out = append(out, q)
			if q == "/" || q == "." {
				break
			}
		}
	}
	return out
}

// clearDigests drops the digests and stored entries of machine's
// directories paths, and with incomplete marks them as not held in full.
func (r *Dirs) clearDigests(ctx context.Context, machine string, paths []string, incomplete bool) error {
	set := "tree = NULL, content = NULL, content_sum = NULL, entries = NULL"
	if incomplete {
		set += ", complete = 0"
	}
	for start := 0; start < len(paths); start += ChunkSize {
		q, args, err := sqlx.In("UPDATE dirs SET "+set+" WHERE machine = ? AND path IN (?)", machine, paths[start:min(start+ChunkSize, len(paths))])
		if err != nil {
			return err
		}
		if _, err := r.x.ExecContext(ctx, r.x.Rebind(q), args...); err != nil {
			return fmt.Errorf("record directories: %w", err)
		}
	}
	return nil
}

// Forget removes machine's directories at or below root, whose rows forget
// removed, and marks every directory above root incomplete, without
// digests: the catalog no longer holds all that is in them. The next scan
// that lists them computes them again.
func (r *Dirs) Forget(ctx context.Context, machine, root string) error {
	r.t.Add(dto.TagDirs)
	under, args := underCond("path", root)
	if _, err := r.x.ExecContext(ctx, r.x.Rebind("DELETE FROM dirs WHERE machine = ? AND "+under), append([]any{machine}, args...)...); err != nil {
		return fmt.Errorf("forget directories under %s: %w", root, err)
	}
	if root == "/" {
		return nil
	}
	return r.clearDigests(ctx, machine, ancestors([]string{filepath.Dir(root)}), true)
}

// Invalidate drops the digests and stored entries of machine's directories
// changed (a directory → whether present files were written in it) and of
// all directories above them, leaving them to the next scan of the machine
// (Unsettled), which computes them again from the rows. A directory with
// present files written that the catalog does not hold makes its nearest
// held ancestor incomplete, as a scan does (its digests would leave those
// files out), until a scan lists it.
func (r *Dirs) Invalidate(ctx context.Context, machine string, changed map[string]bool) error {
	if len(changed) == 0 {
		return nil
	}
	r.t.Add(dto.TagDirs)
	paths := make([]string, 0, len(changed))
	for p := range changed {
		paths = append(paths, p)
	}
	all := ancestors(paths)
	held, err := r.Get(ctx, machine, all)
	if err != nil {
		return err
	}
	var orphaned []string
	for p, present := range changed {
		if _, ok := held[p]; ok || !present {
			continue
		}
		for q := filepath.Dir(p); ; q = filepath.Dir(q) {
			if _, ok := held[q]; ok {
				orphaned = append(orphaned, q)
				break
			}
			if q == "/" || q == "." {
				break
			}
		}
	}
	if err := r.clearDigests(ctx, machine, all, false); err != nil {
		return err
	}
	return r.clearDigests(ctx, machine, orphaned, true)
}
