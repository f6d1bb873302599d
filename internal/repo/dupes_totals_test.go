package repo_test

import (
	"context"
	"testing"

	"github.com/indexer/indexer/internal/catalogtest"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/uow"
)

// TestDupeTotalsOfContentTotals checks that the totals of `dupes` without
// flags, which content_totals keeps (one row), are those of the pass over
// the groups of contents that any other size bound takes (here a bound
// above every size), and those of the listing itself, on a catalog with
// hard links, archive entries and deleted files.
func TestDupeTotalsOfContentTotals(t *testing.T) {
	c := catalogtest.MustOpen(t)
	ctx := context.Background()
	g, err := catalogtest.Generate(ctx, c, catalogtest.Spec{Files: 3000, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	if g.HardLinks == 0 || g.Archived == 0 || g.Deleted == 0 {
		t.Fatalf("the generated catalog has %+v: no hard links, archive entries or deleted files", g)
	}
	var kept, passed, listed dto.DupeTotals
	err = c.UoW().Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		var err error
		if kept, err = r.Files.DupeTotals(ctx, dto.DupeFilter{MinSize: 1, MaxSize: -1}); err != nil {
			return err
		}
		if passed, err = r.Files.DupeTotals(ctx, dto.DupeFilter{MinSize: 1, MaxSize: 1 << 62}); err != nil {
			return err
		}
		return r.Files.Dupes(ctx, dto.DupeFilter{MinSize: 1, MaxSize: -1}, func(g dto.DupeGroup) error {
			listed.Groups++
			listed.Files += int64(g.Count)
			listed.Reclaimable += int64(g.Copies-1) * g.Size
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if kept.Groups < 10 {
		t.Fatalf("%d groups: too few to tell", kept.Groups)
	}
	if kept != passed || kept != listed {
		t.Errorf("content_totals says %+v, the pass over contents %+v, the listing %+v", kept, passed, listed)
	}
}
