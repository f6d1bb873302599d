package service

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/repo"
	"github.com/indexer/indexer/internal/uow"
)

// ErrNotFound is returned for a content or directory the catalog does not
// have; errors.Is finds it in a *NotFoundError.
var ErrNotFound = errors.New("not found")

// NotFoundError is a sentence saying what the catalog does not have; it is
// ErrNotFound.
type NotFoundError struct{ Msg string }

func (e *NotFoundError) Error() string        { return e.Msg }
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// The orders DupesPage can list groups in.
const (
	SortReclaimable = "reclaimable"
	SortSize        = "size"
	SortCount       = "count"
)

// DupesQuery selects one page of duplicate groups.
type DupesQuery struct {
	DupesOptions
	// Sort is SortReclaimable (the default), SortSize or SortCount; ties go
	// by reclaimable space, then by sha256, so pages never overlap.
	Sort string
	// Ext keeps files with this extension (as Extension returns it), and
	// Text files whose path contains it, ignoring case; like Under, a group
	// stays when at least two of its files are kept, with those only.
	Ext, Text string
	// Offset groups are skipped, and at most Limit (> 0) returned.
	Offset, Limit int
	// Times sets the modification time of the files of the groups
	// returned. Only their rows are read for it: the listing itself, as
	// dupes runs it, reads an index that holds no times.
	Times bool
}

// DupesPage returns one page of the groups Dupes lists, in q's order, and
// the totals of every selected group. It reads all groups once (memory holds
// only the page, plus, for orders other than reclaimable space, the groups
// that may still be on it), and with q.Times the times of the page's files,
// in the same read transaction.
func (c *Catalog) DupesPage(ctx context.Context, q DupesQuery) (dto.DupesPage, error) {
	if q.Limit <= 0 {
		return dto.DupesPage{}, &BadQueryError{fmt.Errorf("limit %d must be positive", q.Limit)}
	}
	less, err := groupOrder(q.Sort)
	if err != nil {
		return dto.DupesPage{}, err
	}
	if err := q.DupesOptions.check(); err != nil {
		return dto.DupesPage{}, err
	}
	if err := c.resolveUnder(ctx, &q.DupesOptions); err != nil {
		return dto.DupesPage{}, err
	}
	keep := q.Offset + q.Limit
	var top []dto.DupeGroup // the first keep groups in q's order seen so far
	var t dto.DupeTotals
	err = c.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		top, t = nil, dto.DupeTotals{}
		_, err := dupesIn(ctx, r, q.DupesOptions, func(g dto.DupeGroup) error {
			if q.Ext != "" || q.Text != "" {
				var ok bool
				if g, ok = narrowGroup(g, q.Ext, strings.ToLower(q.Text)); !ok {
					return nil
				}
			}
			t.Groups++
			t.Files += int64(len(g.Files))
			t.Reclaimable += g.Reclaimable
			if less == nil { // the listing's own order: keep the page only
				if n := int(t.Groups) - 1; n >= q.Offset && n < keep {
					top = append(top, g)
				}
				return nil
			}
			i, _ := slices.BinarySearchFunc(top, g, func(a, b dto.DupeGroup) int {
				if less(a, b) {
					return -1
				}
				return 1
			})
			if i < keep {
				top = slices.Insert(top, i, g)
				if len(top) > keep {
					top = top[:keep]
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if less != nil {
			top = top[min(q.Offset, len(top)):]
		}
		if q.Times {
			return addTimes(ctx, r, top)
		}
		return nil
	})
	if err != nil {
		return dto.DupesPage{}, err
	}
	// A volume's files carry their volume, as dupes --json shows them.
	places, err := c.Places(ctx)
	if err != nil {
		return dto.DupesPage{}, err
	}
	for _, g := range top {
		for i, f := range g.Files {
			g.Files[i].Volume = places.Ref(f.Machine, f.Path)
		}
	}
	page := dto.DupesPage{Offset: q.Offset, Limit: q.Limit, Groups: []dto.DupeGroup{}, DupeTotals: t}
	page.Groups = append(page.Groups, top...)
	return page, nil
}

// addTimes sets the modification time of every file of groups, read from
// the rows of their contents alone.
func addTimes(ctx context.Context, r *uow.Repos, groups []dto.DupeGroup) error {
	sums := make([]string, len(groups))
	for i, g := range groups {
		sums[i] = g.SHA256
	}
	times, err := r.Files.ModifiedOf(ctx, sums)
	if err != nil {
		return err
	}
	for _, g := range groups {
		for i, f := range g.Files {
			g.Files[i].Modified = times[repo.Place{Machine: f.Machine, Path: f.Path, ArchivePath: f.ArchivePath}]
		}
	}
	return nil
}

// groupOrder returns how to order groups for sort, nil for the listing's own
// order (reclaimable space, then sha256).
func groupOrder(sort string) (func(a, b dto.DupeGroup) bool, error) {
	tie := func(a, b dto.DupeGroup) int {
		return cmp.Or(cmp.Compare(b.Reclaimable, a.Reclaimable), strings.Compare(a.SHA256, b.SHA256))
	}
	switch sort {
	case "", SortReclaimable:
		return nil, nil
	case SortSize:
		return func(a, b dto.DupeGroup) bool { return cmp.Or(cmp.Compare(b.Size, a.Size), tie(a, b)) < 0 }, nil
	case SortCount:
		return func(a, b dto.DupeGroup) bool { return cmp.Or(cmp.Compare(b.Count, a.Count), tie(a, b)) < 0 }, nil
	}
	return nil, &BadQueryError{fmt.Errorf("sort %q is not one of reclaimable, size, count", sort)}
}

// narrowGroup keeps the files of g with extension ext and a path holding
// text (lower case), and recounts the group; false when fewer than two stay.
func narrowGroup(g dto.DupeGroup, ext, text string) (dto.DupeGroup, bool) {
	var files []dto.DupeFile
	for _, f := range g.Files {
		name := f.Path
		if f.ArchivePath != "" {
			name = f.ArchivePath
		}
		if ext != "" && Extension(filepath.Base(name)) != ext {
			continue
		}
		if text != "" && !strings.Contains(strings.ToLower(f.Path+"::"+f.ArchivePath), text) {
			continue
		}
		files = append(files, f)
	}
	if len(files) < 2 {
		return g, false
	}
	if len(files) == len(g.Files) {
		return g, true
	}
	// A file is linked when another kept file is the same inode; each set of
	// links is one copy.
	type key struct {
		machine       string
		device, inode uint64
	}
	n := map[key]int{}
	for _, f := range files {
		if f.Linked {
			n[key{f.Machine, f.Device, f.Inode}]++
		}
	}
	copies := 0
	for i, f := range files {
		k := key{f.Machine, f.Device, f.Inode}
		switch {
		case !f.Linked:
			copies++
		case n[k] == 1:
			files[i].Linked = false
			copies++
		case n[k] > 1:
			copies++
			n[k] = -1 // counted; the other names add no copy
		}
	}
	g.Files, g.Count, g.Copies = files, len(files), copies
	g.Reclaimable = int64(copies-1) * g.Size
	return g, true
}

// Tree returns one level of machine's directory dir (absolute), with the
// files, bytes and duplicated bytes below each subdirectory. A directory
// with no present file below it, as the catalog knows it, or a machine it
// has no file of, is ErrNotFound.
func (c *Catalog) Tree(ctx context.Context, machine, dir string) ([]dto.TreeEntry, error) {
	if machine == "" {
		return nil, &BadQueryError{errors.New("machine is empty; name the machine whose tree to list")}
	}
	if !filepath.IsAbs(dir) || filepath.Clean(dir) != dir {
		return nil, &BadQueryError{fmt.Errorf("path %q is not a clean absolute path", dir)}
	}
	var out []dto.TreeEntry
	err := c.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		var err error
		out, err = r.Files.Tree(ctx, machine, dir)
		return err
	})
	if err == nil && len(out) == 0 {
		return nil, &NotFoundError{fmt.Sprintf("machine %s has no catalogued file under %s", machine, dir)}
	}
	return out, err
}

// Content returns every present place of the content with digest hash (md5,
// sha1 or sha256 in hex, by length), entries of archives included, ordered
// as Find orders them. A content the catalog lacks is ErrNotFound; a
// malformed hash a *BadQueryError.
func (c *Catalog) Content(ctx context.Context, hash string) (dto.Content, error) {
	out := dto.Content{Locations: []dto.Found{}}
	_, err := c.Find(ctx, FindOptions{Hash: hash, MaxSize: -1}, func(f dto.FileWithHash) error {
		out.SHA256, out.SHA1, out.MD5, out.Size = f.Hash.SHA256, f.Hash.SHA1, f.Hash.MD5, f.Size
		out.Locations = append(out.Locations, dto.NewFound(f))
		return nil
	})
	if err != nil {
		return dto.Content{}, err
	}
	if len(out.Locations) == 0 {
		return dto.Content{}, &NotFoundError{fmt.Sprintf("no present file has the content %s", hash)}
	}
	return out, nil
}
