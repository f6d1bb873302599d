package repo_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/jmoiron/sqlx"

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

// TestInsertAddedLogsEachFileOnce: InsertAdded (one statement on
// PostgreSQL) stores the files and logs each as added by the scan, once,
// with its size and sha256, in the order of their rows.
func TestInsertAddedLogsEachFileOnce(t *testing.T) {
	d := dbtest.MustOpen(t)
	var files []dto.FileWithHash
	for i := range 10 {
		files = append(files, hashedFile(fmt.Sprintf("/f%d", i), content(fmt.Sprint(i))))
	}
	onPool(t, d, func(ctx context.Context, r repos) error { return r.files.InsertAdded(ctx, files, 7) })
	type logged struct {
		Path   string `db:"path"`
		Size   int64  `db:"new_size"`
		SHA256 []byte `db:"new_sha256"`
	}
	var got []logged
	if err := d.WithRead(func(r *sqlx.DB) error {
		return r.Select(&got, "SELECT path, new_size, new_sha256 FROM changes WHERE scan_id = 7 AND op = 'ADD' ORDER BY id")
	}); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 10 {
		want = append(want, fmt.Sprintf("/f%d", i))
	}
	if len(got) != len(want) {
		t.Fatalf("logged %d additions, want %d: %+v", len(got), len(want), got)
	}
	for i, g := range got {
		h := content(fmt.Sprint(i))
		if g.Path != want[i] || g.Size != h.Size || hex.EncodeToString(g.SHA256) != h.SHA256 {
			t.Errorf("addition %d: %s, %d bytes, %x; want %s, %d bytes, %s", i, g.Path, g.Size, g.SHA256, want[i], h.Size, h.SHA256)
		}
	}
	if n := count(t, d, "SELECT COUNT(*) FROM files"); n != 10 {
		t.Errorf("%d rows, want 10", n)
	}
}
