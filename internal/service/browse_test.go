package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/catalogtest"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/service"
)

// TestDupesPageTimes: with Times, every file of a page of duplicate groups
// carries the modification time find gives for the same place (archive
// entries too); without, none does, and the groups are the same.
func TestDupesPageTimes(t *testing.T) {
	s := catalogtest.SampleScanned(t)
	ctx := context.Background()
	found := map[string]time.Time{}
	_, err := s.Find(ctx, service.FindOptions{MaxSize: -1, IncludeArchived: true}, func(f dto.FileWithHash) error {
		found[catalogtest.Label(f.Machine, f.Path, f.ArchivePath)] = f.Modified
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	q := service.DupesQuery{DupesOptions: service.DupesOptions{IncludeArchived: true}, Limit: 2}
	seen, archived := 0, 0
	for q.Offset = 0; ; q.Offset += q.Limit {
		q.Times = false
		plain, err := s.DupesPage(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		q.Times = true
		timed, err := s.DupesPage(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(plain.Groups) != len(timed.Groups) {
			t.Fatalf("offset %d: %d groups without times, %d with", q.Offset, len(plain.Groups), len(timed.Groups))
		}
		for i, g := range timed.Groups {
			for j, f := range g.Files {
				label := catalogtest.Label(f.Machine, f.Path, f.ArchivePath)
				if want, ok := found[label]; !ok || !f.Modified.Equal(want) {
					t.Errorf("%s: modified %v; want %v, as find has it", label, f.Modified, want)
				}
				p := plain.Groups[i].Files[j]
				if !p.Modified.IsZero() {
					t.Errorf("%s: modified %v without Times", label, p.Modified)
				}
				p.Modified = f.Modified
				if p != f {
					t.Errorf("group %s file %d: %+v with Times, %+v without", g.SHA256, j, f, p)
				}
				seen++
				if f.ArchivePath != "" {
					archived++
				}
			}
		}
		if len(timed.Groups) < q.Limit {
			break
		}
	}
	if seen == 0 || archived == 0 {
		t.Fatalf("the pages list %d files, %d of them archive entries: the sample is not what the test needs", seen, archived)
	}
}
