package repo_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/indexer/indexer/internal/dbtest"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/repo"
)

// TestRecordAddedLogsExactlyItsIDs: RecordAdded reads runs of consecutive
// ids as ranges; ids with gaps log those rows and none of the rows in the
// gaps.
func TestRecordAddedLogsExactlyItsIDs(t *testing.T) {
	d := dbtest.MustOpen(t)
	var files []dto.FileWithHash
	for i := range 10 {
		files = append(files, hashedFile(fmt.Sprintf("/f%d", i), content(fmt.Sprint(i))))
	}
	var ids []int64
	onPool(t, d, func(ctx context.Context, r repos) error {
		var err error
		ids, err = r.files.InsertMany(ctx, files)
		return err
	})
	// The first two, the fourth, and the sixth to the ninth: runs and gaps.
	logged := []int64{ids[0], ids[1], ids[3], ids[5], ids[6], ids[7], ids[8]}
	onPool(t, d, func(ctx context.Context, r repos) error {
		return repo.NewChanges(r.x).RecordAdded(ctx, logged, 0)
	})
	var want string
	for _, i := range []int{0, 1, 3, 5, 6, 7, 8} {
		want += fmt.Sprintf("/f%d ", i)
	}
	var got string
	rows := count(t, d, "SELECT COUNT(*) FROM changes")
	for _, i := range []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9} {
		if count(t, d, "SELECT COUNT(*) FROM changes WHERE path = ? AND op = 'ADD'", fmt.Sprintf("/f%d", i)) == 1 {
			got += fmt.Sprintf("/f%d ", i)
		}
	}
	if got != want || rows != len(logged) {
		t.Errorf("logged %q (%d rows); want %q", got, rows, want)
	}
}
