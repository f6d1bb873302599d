package repo_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/dbtest"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/repo"
)

// TestFindNamePrefixRange: a name pattern that begins with literal ASCII,
// matched with case, reads the range of the name index that begins with it
// (an index seek, not a scan of the whole index), and returns every row the
// pattern's LIKE returned that begins with it byte for byte: none in other
// case, none just past the range, and names that go on with bytes above
// ASCII.
func TestFindNamePrefixRange(t *testing.T) {
	d := dbtest.MustOpen(t)
	if d.Dialect().Shared {
		t.Skip("PostgreSQL reads names through its trigram index: no range")
	}
	names := []string{"IMG_1", "IMG_12", "img_1", "IMG_1\xff", "IMG_1é", "IMG_2", "IMG_0", "IMH_1", "IMG", "xIMG_1"}
	var files []dto.FileWithHash
	for i, n := range names {
		f := hashedFile(fmt.Sprintf("/d/%d/%s", i, n), content(n))
		f.Name = n
		files = append(files, f)
	}
	onPool(t, d, func(ctx context.Context, r repos) error {
		_, err := r.files.InsertMany(ctx, files)
		return err
	})
	// What Find returns for --name IMG_1*: the rows the database selects,
	// which the service then matches exactly.
	q := dto.FindFilter{Name: []dto.Like{{Parts: []string{"IMG_1"}, Prefix: true}}, MaxSize: -1}
	var got []string
	onPool(t, d, func(ctx context.Context, r repos) error {
		return r.files.Find(ctx, q, func(m dto.FileWithHash) error {
			got = append(got, m.Name)
			return nil
		})
	})
	slices.Sort(got)
	want := []string{"IMG_1", "IMG_12", "IMG_1é", "IMG_1\xff"}
	if !slices.Equal(got, want) {
		t.Errorf("found %q, want %q", got, want)
	}
	query, args, err := repo.FindQuery(d.Dialect(), q)
	if err != nil {
		t.Fatal(err)
	}
	var plan []struct {
		ID      int    `db:"id"`
		Parent  int    `db:"parent"`
		NotUsed int    `db:"notused"`
		Detail  string `db:"detail"`
	}
	if err := d.WithRead(func(r *sqlx.DB) error { return r.Select(&plan, "EXPLAIN QUERY PLAN "+query, args...) }); err != nil {
		t.Fatal(err)
	}
	var details []string
	for _, p := range plan {
		details = append(details, p.Detail)
	}
	if !slices.ContainsFunc(details, func(s string) bool { return strings.Contains(s, "INDEX files_name (name>? AND name<?)") }) {
		t.Errorf("plan %q reads no range of files_name", details)
	}
}
