package service_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/indexer/indexer/internal/catalogtest"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/service"
)

func collectDupes(t *testing.T, c *service.Catalog, o service.DupesOptions) ([]catalogtest.Group, dto.DupeTotals) {
	t.Helper()
	var got []catalogtest.Group
	totals, err := c.Dupes(context.Background(), o, func(g dto.DupeGroup) error {
		if g.Count != len(g.Files) {
			t.Errorf("group %s: count %d but %d files", g.SHA256, g.Count, len(g.Files))
		}
		gg := catalogtest.Group{SHA256: g.SHA256, Size: g.Size, Copies: g.Copies, Reclaimable: g.Reclaimable}
		for _, f := range g.Files {
			gg.Files = append(gg.Files, catalogtest.Label(f.Machine, f.Path, f.ArchivePath))
			if f.Linked {
				gg.Linked = append(gg.Linked, catalogtest.Label(f.Machine, f.Path, f.ArchivePath))
			}
		}
		got = append(got, gg)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, totals
}

func ptr(n int64) *int64 { return &n }

func TestDupesLimit(t *testing.T) {
	s := catalogtest.Sample(t)
	all, _ := collectDupes(t, s.Catalog, service.DupesOptions{MinSize: 1})
	if len(all) < 3 {
		t.Fatalf("only %d groups", len(all))
	}
	got, totals := collectDupes(t, s.Catalog, service.DupesOptions{MinSize: 1, Limit: 2})
	if !reflect.DeepEqual(got, all[:2]) || totals.Groups != 2 {
		t.Errorf("limit 2: %d groups (totals %+v), want the first 2 of %d", len(got), totals, len(all))
	}
	_, err := s.Dupes(context.Background(), service.DupesOptions{Name: "[a-"}, func(dto.DupeGroup) error { return nil })
	var bad *service.BadQueryError
	if !errors.As(err, &bad) {
		t.Errorf("malformed --name: %v, want a *BadQueryError", err)
	}
}

func TestDupesEqualGroupsOfContents(t *testing.T) {
	catalogtest.EachSample(t, func(t *testing.T, s *catalogtest.SampleCatalog) {
		m1 := s.Roots[catalogtest.M1]
		tests := []struct {
			name string
			opts service.DupesOptions
			// minGroups guards against an expectation that is trivially empty.
			minGroups int
		}{
			{"defaults", service.DupesOptions{MinSize: 1}, 4},
			{"empty files too", service.DupesOptions{}, 5},
			{"machine m1", service.DupesOptions{MinSize: 1, Machine: catalogtest.M1}, 4},
			{"machine m2", service.DupesOptions{MinSize: 1, Machine: catalogtest.M2}, 0},
			{"under m1/a", service.DupesOptions{MinSize: 1, Under: []string{filepath.Join(m1, "a")}}, 1},
			{"under m1/b", service.DupesOptions{MinSize: 1, Under: []string{filepath.Join(m1, "b")}}, 0},
			{"under m1/odd", service.DupesOptions{MinSize: 1, Under: []string{filepath.Join(m1, "odd")}}, 1},
			{"min size 10000", service.DupesOptions{MinSize: 10000}, 1},
			{"min size above all", service.DupesOptions{MinSize: 1 << 20}, 0},
			{"archives included", service.DupesOptions{MinSize: 1, IncludeArchived: true}, 4},
			{"under two paths", service.DupesOptions{MinSize: 1, Under: []string{filepath.Join(m1, "a"), filepath.Join(m1, "b")}}, 2},
			{"max size 3000", service.DupesOptions{MinSize: 1, MaxSize: ptr(3000)}, 2},
			{"only empty files", service.DupesOptions{MaxSize: ptr(0)}, 1},
			{"name glob", service.DupesOptions{MinSize: 1, Name: "*.jpg"}, 1},
			{"name glob with a class", service.DupesOptions{MinSize: 1, Name: "[!p]*.jpg", IncludeArchived: true}, 1},
			{"name glob -i is not dupes'", service.DupesOptions{MinSize: 1, Name: "*.JPG"}, 0},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				want := s.ExpectDupes(t, tt.opts)
				if len(want) < tt.minGroups {
					t.Fatalf("the fixture gives only %d groups, want at least %d", len(want), tt.minGroups)
				}
				got, totals := collectDupes(t, s.Catalog, tt.opts)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("groups differ\n got: %s\nwant: %s", dump(got), dump(want))
				}
				var files, recl int64
				for _, g := range want {
					files += int64(len(g.Files))
					recl += g.Reclaimable
				}
				if totals != (dto.DupeTotals{Groups: int64(len(want)), Files: files, Reclaimable: recl}) {
					t.Errorf("totals %+v, want %d groups, %d files, %d reclaimable", totals, len(want), files, recl)
				}
			})
		}
	})
}

func TestDupesHardLinksAreOneCopy(t *testing.T) {
	catalogtest.EachSample(t, func(t *testing.T, s *catalogtest.SampleCatalog) {
		got, _ := collectDupes(t, s.Catalog, service.DupesOptions{MinSize: 1, Machine: catalogtest.M1})
		m1 := s.Roots[catalogtest.M1]
		for _, g := range got {
			if g.Size != 3000 {
				continue
			}
			// photo1.jpg, photo1-copy.JPG, deep/x.jpg and link.jpg: four names, three copies.
			if len(g.Files) != 4 || g.Copies != 3 || g.Reclaimable != 2*3000 {
				t.Errorf("photo group: %d files, %d copies, %d reclaimable; want 4, 3, 6000", len(g.Files), g.Copies, g.Reclaimable)
			}
			want := []string{catalogtest.Label("m1", filepath.Join(m1, "a", "photo1.jpg"), ""), catalogtest.Label("m1", filepath.Join(m1, "b", "link.jpg"), "")}
			if !reflect.DeepEqual(g.Linked, want) {
				t.Errorf("linked %q, want %q", g.Linked, want)
			}
			return
		}
		t.Fatal("no photo group")
	})
}

func TestDupesExcludeDeleted(t *testing.T) {
	catalogtest.EachSample(t, func(t *testing.T, s *catalogtest.SampleCatalog) {
		gone := filepath.Join(s.Roots[catalogtest.M1], "gone.txt")
		got, _ := collectDupes(t, s.Catalog, service.DupesOptions{})
		for _, g := range got {
			for _, f := range g.Files {
				if strings.HasSuffix(f, gone) {
					t.Errorf("deleted %s listed in group %s", gone, g.SHA256)
				}
			}
		}
		// The row is still there, as DEL.
		n, err := s.Find(context.Background(), service.FindOptions{Name: "gone.txt", Deleted: true, MaxSize: -1}, func(f dto.FileWithHash) error {
			if f.Operation != dto.OpDel {
				t.Errorf("gone.txt has operation %s, want DEL", f.Operation)
			}
			return nil
		})
		if err != nil || n != 1 {
			t.Fatalf("find gone.txt --deleted: %d rows, %v", n, err)
		}
	})
}

func TestDupesStopsOnCallbackError(t *testing.T) {
	s := catalogtest.Sample(t)
	stop := fmt.Errorf("enough")
	calls := 0
	_, err := s.Dupes(context.Background(), service.DupesOptions{MinSize: 1}, func(dto.DupeGroup) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Fatalf("got %v after %d calls, want the callback's error after 1", err, calls)
	}
}

func dump(gs []catalogtest.Group) string {
	var b strings.Builder
	for _, g := range gs {
		fmt.Fprintf(&b, "\n  %.8s size %d copies %d recl %d files %q linked %q", g.SHA256, g.Size, g.Copies, g.Reclaimable, g.Files, g.Linked)
	}
	return b.String()
}
