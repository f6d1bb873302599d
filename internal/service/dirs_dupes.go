package service

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/hex"
	"path/filepath"
	"slices"
	"strings"

	"github.com/zeebo/blake3"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/repo"
	"github.com/indexer/indexer/internal/uow"
)

// DirDupesOptions select the duplicate directories DupeDirs lists.
type DirDupesOptions struct {
	Machine string // one machine; "" for all
	Under   string // directories at or below this absolute path
	MinSize int64  // leave out directories holding fewer bytes
	// Content groups directories holding the same files in any layout,
	// instead of the same tree.
	Content bool
}

func (o DirDupesOptions) filter() repo.DirFilter {
	return repo.DirFilter{Machine: o.Machine, Under: o.Under, MinSize: o.MinSize, Content: o.Content}
}

type dirKey struct{ machine, path string }

// DupeDirs returns the groups of at least two identical directories with
// digests, largest reclaimable space first (then by digest), directories
// within a group by machine and path, and their totals.
//
// A directory whose parent lies in a group too is not listed again when
// every directory of its group is so: the copies of two identical
// directories' subdirectories are implied. Within a group, a directory
// below another of the group (in content mode, a directory that holds
// nothing but one subdirectory has its content) is left out: they are one
// copy. Directories whose files are hard links of each other's (same
// machine, device and inode) are one copy: marked with a link set number,
// adding nothing to the reclaimable space.
func (c *Catalog) DupeDirs(ctx context.Context, o DirDupesOptions) ([]dto.DirGroup, dto.DirTotals, error) {
	var groups []dto.DirGroup
	var t dto.DirTotals
	err := c.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		rows, err := r.Dirs.Duplicates(ctx, o.filter())
		if err != nil {
			return err
		}
		digest := func(d dto.Dir) []byte {
			if o.Content {
				return d.Content
			}
			return d.Tree
		}
		member := map[dirKey]bool{}
		for _, d := range rows {
			member[dirKey{d.Machine, d.Path}] = true
		}
		for start := 0; start < len(rows); {
			end := start + 1
			for end < len(rows) && string(digest(rows[end])) == string(digest(rows[start])) {
				end++
			}
			g := dropNested(rows[start:end])
			start = end
			if len(g) < 2 {
				continue
			}
			implied := true
			for _, d := range g {
				if d.Path == "/" || !member[dirKey{d.Machine, filepath.Dir(d.Path)}] {
					implied = false
				}
			}
			if implied {
				continue
			}
			dg := dto.DirGroup{Digest: hex.EncodeToString(digest(g[0])), Size: g[0].Size, Files: g[0].Files}
			sets, copies, err := linkSetsOf(ctx, r, g)
			if err != nil {
				return err
			}
			for i, d := range g {
				dg.Dirs = append(dg.Dirs, dto.DirRef{Machine: d.Machine, Path: d.Path, Link: sets[i]})
			}
			dg.Reclaimable = int64(copies-1) * dg.Size
			groups = append(groups, dg)
		}
		return nil
	})
	if err != nil {
		return nil, t, err
	}
	slices.SortStableFunc(groups, func(a, b dto.DirGroup) int {
		return cmp.Or(cmp.Compare(b.Reclaimable, a.Reclaimable), strings.Compare(a.Digest, b.Digest))
	})
	for _, g := range groups {
		t.Groups++
		t.Dirs += int64(len(g.Dirs))
		t.Reclaimable += g.Reclaimable
	}
	return groups, t, nil
}

// dropNested leaves out the directories of a group (sorted by machine and
// path) that lie below another of it.
func dropNested(g []dto.Dir) []dto.Dir {
	var out []dto.Dir
	for _, d := range g {
		if n := len(out); n > 0 && out[n-1].Machine == d.Machine && strictlyBelow(d.Path, out[n-1].Path) {
			continue
		}
		out = append(out, d)
	}
	return out
}

// strictlyBelow reports whether path lies strictly below dir.
func strictlyBelow(path, dir string) bool {
	return strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}

// linkSetsOf numbers the sets of directories of a group whose files are
// hard links of each other's, from 1 (0: a directory in no such set), and
// counts the copies: directories not in a set, plus one per set. Two
// directories are such a set when the (device, inode) of their files are
// the same, and every one had more than one link when scanned.
func linkSetsOf(ctx context.Context, r *uow.Repos, g []dto.Dir) ([]int, int, error) {
	sigs := make([]string, len(g))
	for i, d := range g {
		var ids [][2]uint64
		linked := true
		err := r.Dirs.EachFileUnder(ctx, d.Machine, d.Path, func(_ string, f dto.DirFile) error {
			if f.Nlink < 2 || f.Inode == 0 {
				linked = false
				return repo.ErrStop
			}
			ids = append(ids, [2]uint64{f.Device, f.Inode})
			return nil
		})
		if err != nil && err != repo.ErrStop {
			return nil, 0, err
		}
		if !linked || len(ids) == 0 {
			continue
		}
		slices.SortFunc(ids, func(a, b [2]uint64) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
		h := blake3.New()
		var b [16]byte
		for _, id := range ids {
			binary.LittleEndian.PutUint64(b[:8], id[0])
			binary.LittleEndian.PutUint64(b[8:], id[1])
			h.Write(b[:])
		}
		sigs[i] = d.Machine + "\x00" + string(h.Sum(nil))
	}
	count := map[string]int{}
	for _, s := range sigs {
		if s != "" {
			count[s]++
		}
	}
	sets := make([]int, len(g))
	ids := map[string]int{}
	copies := 0
	for i, s := range sigs {
		if s == "" || count[s] < 2 {
			copies++
			continue
		}
		if ids[s] == 0 {
			ids[s] = len(ids) + 1
			copies++
		}
		sets[i] = ids[s]
	}
	return sets, copies, nil
}

// SubsetOptions select the directories DirSubsets considers.
type SubsetOptions struct {
	Machine string
	Under   string
	MinSize int64
}

// DirSubsets returns the directories whose files are all held by another
// directory that holds more, counting multiplicity (by content: sha256),
// each with the directory holding it that has the fewest files more, largest
// first. Both must have digests (be held in full), and the other is neither
// above nor below it, nor holds a copy of it (a duplicate, not a subset). A directory whose parent is itself listed is left out:
// its own containment is implied.
func (c *Catalog) DirSubsets(ctx context.Context, o SubsetOptions) ([]dto.DirSubset, error) {
	type node struct {
		d     dto.Dir
		count map[int32]int32 // content id → files in the subtree
	}
	var out []dto.DirSubset
	err := c.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		dirs, err := r.Dirs.Complete(ctx, repo.DirFilter{Machine: o.Machine, Under: o.Under})
		if err != nil {
			return err
		}
		nodes := map[dirKey]*node{}
		same := map[string][]dto.Dir{} // by content digest
		for _, d := range dirs {
			nodes[dirKey{d.Machine, d.Path}] = &node{d: d, count: map[int32]int32{}}
			same[string(d.Content)] = append(same[string(d.Content)], d)
		}
		// copyBelow reports whether b holds a copy of a: then a ⊆ b is
		// implied by a duplicate, which dupes --dirs --content lists.
		copyBelow := func(a, b dto.Dir) bool {
			for _, x := range same[string(a.Content)] {
				if x.Machine == b.Machine && strictlyBelow(x.Path, b.Path) && x.Path != a.Path {
					return true
				}
			}
			return false
		}
		ids := map[[32]byte]int32{}
		holders := map[int32][]*node{} // content → directories holding it
		err = r.Dirs.EachFileUnder(ctx, o.Machine, o.Under, func(m string, f dto.DirFile) error {
			if len(f.SHA256) != 32 {
				return nil
			}
			id, ok := ids[[32]byte(f.SHA256)]
			if !ok {
				id = int32(len(ids))
				ids[[32]byte(f.SHA256)] = id
			}
			for p := f.Path; ; p = filepath.Dir(p) {
				if n := nodes[dirKey{m, p}]; n != nil {
					if n.count[id] == 0 {
						holders[id] = append(holders[id], n)
					}
					n.count[id]++
				}
				if p == "/" || p == "." {
					break
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		found := map[dirKey]bool{}
		for _, a := range dirs {
			na := nodes[dirKey{a.Machine, a.Path}]
			if a.Files == 0 || a.Size < o.MinSize {
				continue
			}
			// The candidates hold A's rarest content.
			var rare int32 = -1
			for id := range na.count {
				if rare < 0 || len(holders[id]) < len(holders[rare]) {
					rare = id
				}
			}
			var best *node
			for _, nb := range holders[rare] {
				b := nb.d
				if nb == na || nb.d.Files <= a.Files || (b.Machine == a.Machine && (strictlyBelow(a.Path, b.Path) || strictlyBelow(b.Path, a.Path))) {
					continue
				}
				if best != nil && b.Files >= best.d.Files {
					continue
				}
				if contains(nb.count, na.count) && !copyBelow(a, b) {
					best = nb
				}
			}
			if best != nil {
				found[dirKey{a.Machine, a.Path}] = true
				out = append(out, dto.DirSubset{Dir: dto.DirRef{Machine: a.Machine, Path: a.Path}, Size: a.Size, Files: a.Files,
					In: dto.DirRef{Machine: best.d.Machine, Path: best.d.Path}, Extra: best.d.Files - a.Files})
			}
		}
		out = slices.DeleteFunc(out, func(s dto.DirSubset) bool {
			return s.Dir.Path != "/" && found[dirKey{s.Dir.Machine, filepath.Dir(s.Dir.Path)}]
		})
		return nil
	})
	slices.SortStableFunc(out, func(a, b dto.DirSubset) int {
		return cmp.Or(cmp.Compare(b.Size, a.Size), strings.Compare(a.Dir.Machine, b.Dir.Machine), strings.Compare(a.Dir.Path, b.Dir.Path))
	})
	return out, err
}

// contains reports whether the multiset big holds the multiset small.
func contains(big, small map[int32]int32) bool {
	if len(small) > len(big) {
		return false
	}
	for id, n := range small {
		if big[id] < n {
			return false
		}
	}
	return true
}
