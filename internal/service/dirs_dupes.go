package service

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
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

func (o DirDupesOptions) filter() dto.DirFilter {
	return dto.DirFilter{Machine: o.Machine, Under: o.Under, MinSize: o.MinSize, Content: o.Content}
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
	places, err := c.Places(ctx)
	if err != nil {
		return nil, t, err
	}
	err = c.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
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
			sets, copies, err := linkSetsOf(ctx, r, g, places)
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

// linkSetsOf numbers the sets of directories of a group that are one copy,
// from 1 (0: a directory in no such set), and counts the copies:
// directories not in a set, plus one per set. Two directories are one copy
// when the (device, inode) of their files are the same, and every one had
// more than one link when scanned (hard links); or when one is a mounted
// volume's directory and the other, of a machine that is no volume's, is
// recorded at the path it has now (one directory catalogued twice: as the
// volume's, and by its absolute path).
func linkSetsOf(ctx context.Context, r *uow.Repos, g []dto.Dir, places *Places) ([]int, int, error) {
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
	parent := make([]int, len(g))
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	bySig := map[string]int{}
	byPath := map[string][]int{} // directories of machines that are no volume's
	for i, s := range sigs {
		if s != "" {
			if j, ok := bySig[s]; ok {
				parent[find(i)] = find(j)
			} else {
				bySig[s] = i
			}
		}
		if !dto.IsVolumeMachine(g[i].Machine) {
			byPath[g[i].Path] = append(byPath[g[i].Path], i)
		}
	}
	for i, d := range g {
		if abs, _, ok := places.Abs(d.Machine, d.Path); ok && dto.IsVolumeMachine(d.Machine) {
			for _, j := range byPath[abs] {
				parent[find(i)] = find(j)
			}
		}
	}
	size := map[int]int{}
	for i := range g {
		size[find(i)]++
	}
	sets := make([]int, len(g))
	ids := map[int]int{}
	for i := range g {
		root := find(i)
		if size[root] < 2 {
			continue
		}
		if ids[root] == 0 {
			ids[root] = len(ids) + 1
		}
		sets[i] = ids[root]
	}
	return sets, len(size), nil
}

// SubsetOptions select the directories DirSubsets considers.
type SubsetOptions struct {
	Machine string
	Under   string
	MinSize int64
}

// DirSubsets returns the directories whose files are all held by another
// directory that holds more, counting multiplicity (by content: sha256),
// each with the directory holding it that has the fewest files more (then
// the first by machine and path), largest first. Both must have digests
// (be held in full), and the other is neither above nor below it, nor
// holds a copy of it (a duplicate, not a subset). A directory whose parent
// is itself listed is left out: its own containment is implied.
//
// Each directory's subtree is a sorted list of content numbers (a content
// as often as it occurs), built bottom-up from its own files and its
// subdirectories' lists: about files × depth numbers in all. The only
// candidates for holding A are the directories at or above a file with
// A's rarest content (an inverted index from content to the directories of
// its files), tried fewest files first, so the first that holds A is the
// answer.
func (c *Catalog) DirSubsets(ctx context.Context, o SubsetOptions) ([]dto.DirSubset, error) {
	type node struct {
		d      dto.Dir
		parent int32   // index of the directory above, -1 for none
		own    []int32 // contents of its own files, then of its subtree, sorted
	}
	var out []dto.DirSubset
	err := c.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		dirs, err := r.Dirs.Complete(ctx, dto.DirFilter{Machine: o.Machine, Under: o.Under})
		if err != nil {
			return err
		}
		nodes := make([]node, len(dirs))
		index := make(map[dirKey]int32, len(dirs))
		same := map[string][]int32{} // by content digest
		for i, d := range dirs {
			nodes[i] = node{d: d, parent: -1}
			index[dirKey{d.Machine, d.Path}] = int32(i)
			same[string(d.Content)] = append(same[string(d.Content)], int32(i))
		}
		for i := range nodes {
			if d := nodes[i].d; d.Path != "/" {
				if p, ok := index[dirKey{d.Machine, filepath.Dir(d.Path)}]; ok {
					nodes[i].parent = p
				}
			}
		}
		ids := map[[32]byte]int32{}
		var copies []int32  // content → files with it
		var where [][]int32 // content → directories with a file of it (own files)
		addFile := func(n int32, sha256 []byte) {
			if len(sha256) != 32 {
				return
			}
			id, ok := ids[[32]byte(sha256)]
			if !ok {
				id = int32(len(ids))
				ids[[32]byte(sha256)] = id
				copies = append(copies, 0)
				where = append(where, nil)
			}
			copies[id]++
			if w := where[id]; len(w) == 0 || w[len(w)-1] != n {
				where[id] = append(w, n)
			}
			nodes[n].own = append(nodes[n].own, id)
		}
		// A directory's own files are those its digests saw, kept with
		// them (dirs.entries): a read of about 50 bytes a file from the
		// directories, not of the files' rows. A directory whose entries
		// a change outside a scan cleared (dedupe) reads its rows.
		for start := 0; start < len(nodes); start += repo.ChunkSize {
			chunk := make([]int64, 0, repo.ChunkSize)
			for i := start; i < min(start+repo.ChunkSize, len(nodes)); i++ {
				chunk = append(chunk, nodes[i].d.ID)
			}
			stored, err := r.Dirs.Entries(ctx, chunk)
			if err != nil {
				return err
			}
			for i := start; i < min(start+repo.ChunkSize, len(nodes)); i++ {
				d := nodes[i].d
				if b, ok := stored[d.ID]; ok {
					own, err := decodeOwnFiles(b)
					if err != nil {
						return fmt.Errorf("read the files of directory %s: %w", d.Path, err)
					}
					for _, f := range own.files {
						addFile(int32(i), f.SHA256)
					}
					continue
				}
				files, err := r.Dirs.Files(ctx, d.Machine, d.Path)
				if err != nil {
					return err
				}
				for _, f := range files {
					addFile(int32(i), f.SHA256)
				}
			}
		}
		// Subtrees, deepest first: a directory's list is complete before
		// its parent takes it.
		order := make([]int32, len(nodes))
		for i := range order {
			order[i] = int32(i)
		}
		depth := func(i int32) int {
			if nodes[i].d.Path == "/" {
				return 0
			}
			return strings.Count(nodes[i].d.Path, "/")
		}
		slices.SortFunc(order, func(a, b int32) int { return cmp.Compare(depth(b), depth(a)) })
		for _, i := range order {
			n := &nodes[i]
			slices.Sort(n.own)
			if n.parent >= 0 {
				p := &nodes[n.parent]
				p.own = append(p.own, n.own...)
			}
		}
		// copyBelow reports whether b holds a copy of a: then a ⊆ b is
		// implied by a duplicate, which dupes --dirs --content lists.
		copyBelow := func(a, b dto.Dir) bool {
			for _, x := range same[string(a.Content)] {
				if d := nodes[x].d; d.Machine == b.Machine && strictlyBelow(d.Path, b.Path) && d.Path != a.Path {
					return true
				}
			}
			return false
		}
		found := map[dirKey]bool{}
		seen := make([]int32, len(nodes)) // the a for which a node is already a candidate, plus one
		var cands []int32
		for ai := range nodes {
			a := nodes[ai].d
			if a.Files == 0 || a.Size < o.MinSize || len(nodes[ai].own) == 0 {
				continue
			}
			rare := nodes[ai].own[0]
			for _, id := range nodes[ai].own {
				if copies[id] < copies[rare] {
					rare = id
				}
			}
			cands = cands[:0]
			for _, w := range where[rare] {
				for n := w; n >= 0 && seen[n] != int32(ai)+1; n = nodes[n].parent {
					seen[n] = int32(ai) + 1
					b := nodes[n].d
					if int(n) == ai || b.Files <= a.Files || b.Size < a.Size ||
						(b.Machine == a.Machine && (strictlyBelow(a.Path, b.Path) || strictlyBelow(b.Path, a.Path))) {
						continue
					}
					cands = append(cands, n)
				}
			}
			slices.SortFunc(cands, func(x, y int32) int {
				dx, dy := nodes[x].d, nodes[y].d
				return cmp.Or(cmp.Compare(dx.Files, dy.Files), strings.Compare(dx.Machine, dy.Machine), strings.Compare(dx.Path, dy.Path))
			})
			for _, bi := range cands {
				b := nodes[bi].d
				if containsSorted(nodes[bi].own, nodes[ai].own) && !copyBelow(a, b) {
					found[dirKey{a.Machine, a.Path}] = true
					out = append(out, dto.DirSubset{Dir: dto.DirRef{Machine: a.Machine, Path: a.Path}, Size: a.Size, Files: a.Files,
						In: dto.DirRef{Machine: b.Machine, Path: b.Path}, Extra: b.Files - a.Files})
					break
				}
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

// containsSorted reports whether the sorted multiset big holds the sorted
// multiset small: each run of a number in small is found in big by binary
// search from where the last one was, and must be as long there.
func containsSorted(big, small []int32) bool {
	if len(small) > len(big) {
		return false
	}
	for i := 0; i < len(small); {
		id := small[i]
		n := 1
		for i+n < len(small) && small[i+n] == id {
			n++
		}
		at, ok := slices.BinarySearch(big, id)
		if !ok || at+n > len(big) || big[at+n-1] != id {
			return false
		}
		big = big[at+n:]
		i += n
	}
	return true
}
