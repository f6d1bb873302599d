package service

import (
	"context"
	"fmt"
	"strings"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/match"
	"github.com/indexer/indexer/internal/repo"
	"github.com/indexer/indexer/internal/uow"
)

// BadQueryError is what Find returns for a malformed pattern or hash: the
// user's input is wrong, not the catalog.
type BadQueryError struct{ Err error }

func (e *BadQueryError) Error() string { return e.Err.Error() }
func (e *BadQueryError) Unwrap() error { return e.Err }

// FindOptions are the filters of Find; every one that is set must hold.
type FindOptions struct {
	// Name is a shell pattern (*, ?, [...], \) the whole file name must match.
	Name string
	// Terms must all match, as plocate's: a term with *, ? or [ is a shell
	// pattern matched against the file name when it holds no /, and against
	// the whole path when it does (then * and ? match a / too); any other term must occur in the path
	// (for an archive entry, the archive's path).
	Terms []string
	// Fold makes Name and Terms ignore case.
	Fold bool
	// Hash is an md5, sha1 or sha256 in hex, told apart by length.
	Hash string
	// MinSize and MaxSize bound the size in bytes; MaxSize < 0 means no bound.
	MinSize, MaxSize int64
	// Machine restricts the search to one machine; "" means all.
	Machine string
	// Under restricts it to files below an absolute path.
	Under string
	// Deleted also lists files a scan found gone (operation DEL).
	Deleted bool
	// IncludeArchived also lists entries inside archives.
	IncludeArchived bool
	// Limit stops after that many entries; 0 means no limit.
	Limit int
}

// Find calls fn for each catalog entry matching o, ordered by machine, path
// and archive path, and returns how many it passed. It streams. Name and
// term filters run twice: coarsely in SQL on the literal text they
// contain, then exactly in Go, so SQL dialects of LIKE cannot change the
// result. A malformed pattern or hash is a *BadQueryError.
func (c *Catalog) Find(ctx context.Context, o FindOptions, fn func(dto.FileWithHash) error) (int, error) {
	q := dto.FindFilter{MinSize: o.MinSize, MaxSize: o.MaxSize, Machine: o.Machine, Under: o.Under, Deleted: o.Deleted,
		IncludeArchived: o.IncludeArchived}
	if o.Under != "" {
		under, host, vols, err := c.underScope(ctx, o.Machine, []string{o.Under})
		if err != nil {
			return 0, err
		}
		q.Under, q.UnderIsHost, q.UnderVolumes = under[0], host, vols
	}
	// Each matcher reads the file name or the path.
	var names, paths []*match.Matcher
	if o.Name != "" {
		m, err := match.Glob(o.Name, o.Fold)
		if err != nil {
			return 0, &BadQueryError{fmt.Errorf("--name: %w", err)}
		}
		names = append(names, m)
	}
	for _, t := range o.Terms {
		switch {
		case !IsGlob(t):
			paths = append(paths, match.Substring(t, o.Fold))
		case strings.Contains(t, "/"):
			m, err := match.PathGlob(t, o.Fold)
			if err != nil {
				return 0, &BadQueryError{err}
			}
			paths = append(paths, m)
		default:
			m, err := match.Glob(t, o.Fold)
			if err != nil {
				return 0, &BadQueryError{err}
			}
			names = append(names, m)
		}
	}
	for _, m := range names {
		q.Name = append(q.Name, like(m.Hint()))
	}
	for _, m := range paths {
		q.Path = append(q.Path, like(m.Hint()))
	}
	if o.Hash != "" {
		q.Hash = strings.ToLower(o.Hash)
		if err := repo.CheckHash(q.Hash); err != nil {
			return 0, &BadQueryError{err}
		}
	}
	n := 0
	err := c.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		return r.Files.Find(ctx, q, func(m dto.FileWithHash) error {
			for _, nm := range names {
				if !nm.Match(m.Name) {
					return nil
				}
			}
			for _, pm := range paths {
				if !pm.Match(m.Path) {
					return nil
				}
			}
			if err := fn(m); err != nil {
				return err
			}
			n++
			if o.Limit > 0 && n >= o.Limit {
				return repo.ErrStop
			}
			return nil
		})
	})
	return n, err
}

// IsGlob tells whether a find term is a shell pattern: whether it holds *, ?
// or [.
func IsGlob(term string) bool { return strings.ContainsAny(term, "*?[") }

func like(h match.Hint) dto.Like {
	return dto.Like{Parts: h.Parts, Prefix: h.Prefix, Suffix: h.Suffix, Lower: h.Lower}
}
