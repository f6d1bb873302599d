package repo

import (
	"slices"
	"sync"

	"github.com/indexer/indexer/internal/dto"
)

// Touched collects the tags (dto.TagFiles, dto.MachineTag, ...) of what one
// transaction's writes changed. Every repository method that changes rows
// adds its tags; the unit of work records them at commit. A nil *Touched
// records nothing: repositories on a pool, or in a read transaction, have
// none.
type Touched struct {
	mu  sync.Mutex
	set map[string]struct{}
}

// Add records tags.
func (t *Touched) Add(tags ...string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.set == nil {
		t.set = map[string]struct{}{}
	}
	for _, tag := range tags {
		t.set[tag] = struct{}{}
	}
}

// Tags returns the tags recorded, sorted.
func (t *Touched) Tags() []string {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]string, 0, len(t.set))
	for tag := range t.set {
		out = append(out, tag)
	}
	slices.Sort(out)
	return out
}

// touchFiles records a change to the files of the machines of fs.
func (t *Touched) touchFiles(fs []dto.FileWithHash) {
	if t == nil || len(fs) == 0 {
		return
	}
	t.Add(dto.TagFiles)
	last := ""
	for i, f := range fs {
		if i == 0 || f.Machine != last {
			t.Add(dto.MachineTag(f.Machine))
			last = f.Machine
		}
	}
}
