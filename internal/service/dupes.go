package service

import (
	"context"
	"errors"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/match"
	"github.com/indexer/indexer/internal/uow"
)

// DupesOptions select the duplicates Dupes lists. The zero value lists every
// group of present plain files, empty files included.
type DupesOptions struct {
	// Machine restricts the listing to one machine; "" means all.
	Machine string
	// Under restricts it to files below any of these absolute paths: a group
	// is listed when at least two of its copies are below them, and shows
	// only those.
	Under []string
	// MinSize skips files smaller than this many bytes.
	MinSize int64
	// MaxSize, when not nil, skips files larger than this many bytes.
	MaxSize *int64
	// Name is a shell pattern (see match.Glob) the file name must match,
	// case sensitive; "" for all.
	Name string
	// Limit stops the listing after that many groups; 0 means no limit.
	Limit int
	// IncludeArchived also groups entries inside archives.
	IncludeArchived bool

	// where tells where a volume's files are now, or were last seen
	// (Places.NowOrLast), so that a file catalogued both as a volume's
	// and by its absolute path is one copy, never two; set by Dupes.
	where func(machine, path string) (string, uint64, uint64, bool)
	// underIsHost and underVolumes are Under resolved by resolveUnder.
	underIsHost  bool
	underVolumes []dto.VolumeSubtree
}

// resolveUnder resolves o.Under against the volumes mounted now (see
// underScope).
func (c *Catalog) resolveUnder(ctx context.Context, o *DupesOptions) error {
	var err error
	o.Under, o.underIsHost, o.underVolumes, err = c.underScope(ctx, o.Machine, o.Under)
	return err
}

func (o DupesOptions) filter() dto.DupeFilter {
	f := dto.DupeFilter{Machine: o.Machine, Under: o.Under, UnderIsHost: o.underIsHost, UnderVolumes: o.underVolumes,
		MinSize: o.MinSize, MaxSize: -1, Name: o.Name, IncludeArchived: o.IncludeArchived, Where: o.where}
	if o.MaxSize != nil {
		f.MaxSize = *o.MaxSize
	}
	return f
}

// Dupes calls fn for every group of selected files with the same content
// (same sha256) and at least two distinct copies, largest reclaimable space
// first, files ordered by path, and returns the totals of what it listed.
// Names of one inode on one machine (hard links, or one file scanned under
// two paths) count as one copy: they add nothing to the reclaimable space. Groups
// are streamed from one read transaction: memory does not grow with the
// catalog. An error from fn stops the listing and is returned; a malformed
// Name is a *BadQueryError.
func (c *Catalog) Dupes(ctx context.Context, o DupesOptions, fn func(dto.DupeGroup) error) (dto.DupeTotals, error) {
	if err := o.check(); err != nil {
		return dto.DupeTotals{}, err
	}
	places, err := c.Places(ctx)
	if err != nil {
		return dto.DupeTotals{}, err
	}
	o.where = places.NowOrLast
	if err := c.resolveUnder(ctx, &o); err != nil {
		return dto.DupeTotals{}, err
	}
	var t dto.DupeTotals
	err = c.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		var err error
		t, err = dupesIn(ctx, r, o, fn)
		return err
	})
	return t, err
}

// check refuses options no listing can be made of.
func (o DupesOptions) check() error {
	if o.Name != "" {
		if _, err := match.Glob(o.Name, false); err != nil {
			return &BadQueryError{err}
		}
	}
	return nil
}

// dupesIn is Dupes within the read transaction of r.
func dupesIn(ctx context.Context, r *uow.Repos, o DupesOptions, fn func(dto.DupeGroup) error) (dto.DupeTotals, error) {
	var t dto.DupeTotals
	err := r.Files.Dupes(ctx, o.filter(), func(g dto.DupeGroup) error {
		t.Groups++
		t.Files += int64(len(g.Files))
		t.Reclaimable += g.Reclaimable
		if err := fn(g); err != nil {
			return err
		}
		if o.Limit > 0 && t.Groups >= int64(o.Limit) {
			return errLimit
		}
		return nil
	})
	if errors.Is(err, errLimit) {
		err = nil
	}
	return t, err
}

// errLimit stops a listing that reached its limit.
var errLimit = errors.New("limit reached")

// Machines returns the names of the machines the catalog has files of.
func (c *Catalog) Machines(ctx context.Context) ([]string, error) {
	var out []string
	err := c.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		var err error
		out, err = r.Files.Machines(ctx)
		return err
	})
	return out, err
}
