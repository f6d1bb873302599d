package catalogtest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/indexer/indexer/internal/match"
	"github.com/indexer/indexer/internal/service"
)

// Group is a duplicate group as tests compare them.
type Group struct {
	SHA256      string
	Size        int64
	Copies      int
	Reclaimable int64
	Files       []string // Label of each file, in output order
	Linked      []string // the files marked linked, same form
}

// ExpectDupes computes from the sample's file contents and the file system,
// independently of the catalog, the groups Dupes must return for o, in the
// documented order: largest reclaimable first, ties by sha256, files by path.
// Names of one machine, device and inode are one copy, and a group needs two
// copies.
func (s *SampleCatalog) ExpectDupes(t testing.TB, o service.DupesOptions) []Group {
	t.Helper()
	type file struct {
		machine, path, inner string
		dev, ino             uint64
	}
	byContent := map[string][]file{}
	sizes := map[string]int64{}
	for _, e := range s.Entries {
		switch {
		case e.Deleted,
			e.Archived && !o.IncludeArchived,
			o.Machine != "" && e.Machine != o.Machine,
			int64(len(e.Content)) < o.MinSize,
			o.MaxSize != nil && int64(len(e.Content)) > *o.MaxSize,
			o.Name != "" && !nameMatches(o.Name, e),
			len(o.Under) > 0 && !underAny(e.Path, o.Under):
			continue
		}
		sum := sha256.Sum256(e.Content)
		key := hex.EncodeToString(sum[:])
		f := file{machine: e.Machine, path: e.Path, inner: e.ArchivePath}
		if !e.Archived {
			var st syscall.Stat_t
			if err := syscall.Stat(e.Path, &st); err != nil {
				t.Fatal(err)
			}
			f.dev, f.ino = uint64(st.Dev), st.Ino
		}
		byContent[key] = append(byContent[key], f)
		sizes[key] = int64(len(e.Content))
	}
	var out []Group
	for sum, fs := range byContent {
		if len(fs) < 2 {
			continue
		}
		sort.Slice(fs, func(i, j int) bool {
			a, b := fs[i], fs[j]
			if a.path != b.path {
				return a.path < b.path
			}
			if a.machine != b.machine {
				return a.machine < b.machine
			}
			return a.inner < b.inner
		})
		g := Group{SHA256: sum, Size: sizes[sum]}
		inodes := map[string]int{}
		for _, f := range fs {
			if f.ino != 0 {
				inodes[fmt.Sprint(f.machine, f.dev, f.ino)]++
			}
		}
		for _, f := range fs {
			name := Label(f.machine, f.path, f.inner)
			g.Files = append(g.Files, name)
			k := fmt.Sprint(f.machine, f.dev, f.ino)
			if f.ino == 0 || inodes[k] == 1 {
				g.Copies++
				continue
			}
			g.Linked = append(g.Linked, name)
			if inodes[k] > 0 {
				g.Copies++
				inodes[k] = -1 // count the set once
			}
		}
		if g.Copies < 2 {
			continue // one file under several names is no duplicate
		}
		g.Reclaimable = int64(g.Copies-1) * g.Size
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Reclaimable != out[j].Reclaimable {
			return out[i].Reclaimable > out[j].Reclaimable
		}
		return out[i].SHA256 < out[j].SHA256
	})
	return out
}

// Label names a file in tests: "machine:path", and "::inner" for an entry of
// an archive.
func Label(machine, path, inner string) string {
	s := machine + ":" + path
	if inner != "" {
		s += "::" + inner
	}
	return s
}

// underAny tells whether p is one of roots or below one.
func underAny(p string, roots []string) bool {
	for _, r := range roots {
		if p == r || strings.HasPrefix(p, strings.TrimSuffix(r, "/")+"/") {
			return true
		}
	}
	return false
}

// nameMatches tells whether the entry's own name (the inner name for an
// archive entry) matches the shell pattern.
func nameMatches(pattern string, e Entry) bool {
	name := filepath.Base(e.Path)
	if e.ArchivePath != "" {
		name = filepath.Base(e.ArchivePath)
	}
	m, err := match.Glob(pattern, false)
	return err == nil && m.Match(name)
}
