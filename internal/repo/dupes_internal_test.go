package repo

import (
	"testing"

	"github.com/indexer/indexer/internal/dto"
)

// TestMarkLinkedLargeGroups checks that the map markLinked uses for large
// groups counts as the pairwise comparison of small groups does.
func TestMarkLinkedLargeGroups(t *testing.T) {
	for _, n := range []int{5, 16, 17, 40} {
		fs := make([]dto.DupeFile, n)
		for i := range fs {
			// Every third file shares an inode with the file before it, and
			// the last file is an archive entry (no inode).
			fs[i] = dto.DupeFile{Machine: "m", Device: 1, Inode: uint64(100 + i - boolInt(i%3 == 2))}
		}
		fs[n-1].Device, fs[n-1].Inode = 0, 0
		extra, linked := 0, 0
		for i := range fs {
			if i%3 == 2 && i != n-1 {
				extra++
				linked += 2
			}
		}
		if got, want := markLinked(fs), n-extra; got != want {
			t.Errorf("%d files: %d copies, want %d", n, got, want)
		}
		got := 0
		for _, f := range fs {
			if f.Linked {
				got++
			}
		}
		if got != linked {
			t.Errorf("%d files: %d marked linked, want %d", n, got, linked)
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
