package repo_test

import (
	"context"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/catalogtest"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/uow"
)

func TestMachinesAndLike(t *testing.T) {
	c := catalogtest.MustOpen(t)
	var rows []dto.FileWithHash
	names := []string{`50%_off\x.txt`, "50x_off\\x.txt", "50%Xoff\\x.txt", "report.TXT", "b.txt"}
	for i, m := range []string{"zeta", "alpha", "mid", "alpha", "zeta"} {
		rows = append(rows, dto.FileWithHash{
			Hash: content(names[i]),
			FileMeta: dto.FileMeta{Machine: m, Path: "/d/" + names[i], Name: names[i], Size: 1,
				Modified: time.Unix(1, 0), Scanned: time.Unix(2, 0), Operation: dto.OpAdd}})
	}
	catalogtest.Insert(t, c, rows)
	ctx := context.Background()
	err := c.UoW().Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		got, err := r.Files.Machines(ctx)
		if err != nil {
			return err
		}
		if want := []string{"alpha", "mid", "zeta"}; !reflect.DeepEqual(got, want) {
			t.Errorf("Machines() = %q, want %q", got, want)
		}
		tests := []struct {
			like dto.Like
			want []string
		}{
			// %, _ and \ are literal: only the first name has "%_".
			{dto.Like{Parts: []string{"%_"}}, []string{`50%_off\x.txt`}},
			{dto.Like{Parts: []string{`\x`}}, []string{`50%_off\x.txt`, "50%Xoff\\x.txt", "50x_off\\x.txt"}},
			{dto.Like{Parts: []string{"50", ".txt"}, Prefix: true, Suffix: true}, []string{`50%_off\x.txt`, "50%Xoff\\x.txt", "50x_off\\x.txt"}},
			{dto.Like{Parts: []string{"report.txt"}, Prefix: true, Suffix: true, Lower: true}, []string{"report.TXT"}},
			{dto.Like{Parts: []string{"b"}, Prefix: true}, []string{"b.txt"}},
			{dto.Like{}, []string{`50%_off\x.txt`, "50%Xoff\\x.txt", "50x_off\\x.txt", "b.txt", "report.TXT"}},
		}
		for _, tt := range tests {
			var got []string
			err := r.Files.Find(ctx, dto.FindFilter{Name: []dto.Like{tt.like}, MaxSize: -1}, func(f dto.FileWithHash) error {
				got = append(got, f.Name)
				return nil
			})
			if err != nil {
				return err
			}
			// Find orders by machine then path; compare as sets.
			sort.Strings(got)
			sort.Strings(tt.want)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Like %+v: got %q, want %q", tt.like, got, tt.want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
