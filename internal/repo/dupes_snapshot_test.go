package repo_test

import (
	"context"
	"encoding/hex"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/catalogtest"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/repo"
	"github.com/indexer/indexer/internal/uow"
)

// TestRawListingIsTheUnitsSnapshot checks that what Dupes lists within a
// read unit of work is what the unit's transaction sees, when it reads the
// listing through a raw connection (SQLite): a write committed after the
// unit's first read must not show in the listing while the unit's other
// reads (DupeTotals here; ModifiedOf, GetByPaths for its callers) do not
// see it. Through the summary, and through the rows (a machine).
func TestRawListingIsTheUnitsSnapshot(t *testing.T) {
	c := catalogtest.MustOpen(t)
	ctx := context.Background()
	if _, err := catalogtest.Generate(ctx, c, catalogtest.Spec{Files: 4000, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		d    dto.DupeFilter
	}{
		{"summary", dto.DupeFilter{MinSize: 1, MaxSize: -1}},
		{"machine", dto.DupeFilter{MinSize: 1, MaxSize: -1, Machine: "nas"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer repo.SetRawDupesFiles(repo.SetRawDupesFiles(0))
			var deleted string
			err := c.UoW().Read(ctx, func(ctx context.Context, r *uow.Repos) error {
				before, err := r.Files.DupeTotals(ctx, tc.d) // the unit's snapshot starts here
				if err != nil {
					return err
				}
				var top dto.DupeGroup
				if err := r.Files.Dupes(ctx, tc.d, func(g dto.DupeGroup) error {
					if top.SHA256 == "" {
						top = g
					}
					return nil
				}); err != nil {
					return err
				}
				// Another writer marks the top group's files deleted and
				// commits.
				deleted = top.SHA256
				deleteContent(t, c.UoW(), deleted)
				var got dto.DupeTotals
				if err := r.Files.Dupes(ctx, tc.d, func(g dto.DupeGroup) error {
					got.Groups++
					got.Files += int64(len(g.Files))
					got.Reclaimable += g.Reclaimable
					return nil
				}); err != nil {
					return err
				}
				after, err := r.Files.DupeTotals(ctx, tc.d)
				if err != nil {
					return err
				}
				if after != before {
					t.Fatalf("the transaction's totals moved: %+v then %+v", before, after)
				}
				if got != after {
					t.Errorf("in one read unit of work, Dupes lists %+v but DupeTotals says %+v: the listing read another snapshot", got, after)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			// Once the unit is over, a new one lists without the group.
			err = c.UoW().Read(ctx, func(ctx context.Context, r *uow.Repos) error {
				return r.Files.Dupes(ctx, tc.d, func(g dto.DupeGroup) error {
					if g.SHA256 == deleted {
						t.Errorf("group %s listed after its files were deleted", deleted)
					}
					return nil
				})
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// deleteContent marks the files holding the content sha256 (hex) deleted,
// in a write unit of work of its own, as a scan does.
func deleteContent(t *testing.T, u *uow.UoW, sha256 string) {
	t.Helper()
	ctx := context.Background()
	sum, err := hex.DecodeString(sha256)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string][]int64{}
	err = u.DB().WithRead(func(r *sqlx.DB) error {
		rows, err := r.QueryxContext(ctx, r.Rebind("SELECT machine, id FROM files WHERE sha256 = ? AND operation <> 'DEL'"), sum)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var m string
			var id int64
			if err := rows.Scan(&m, &id); err != nil {
				return err
			}
			ids[m] = append(ids[m], id)
		}
		return rows.Err()
	})
	if err != nil || len(ids) == 0 {
		t.Fatalf("files of %s: %v (%d machines)", sha256, err, len(ids))
	}
	err = u.Do(ctx, "test delete", func(ctx context.Context, r *uow.Repos) error {
		for m, ids := range ids {
			scan, err := r.Scans.Create(ctx, dto.Scan{Machine: m, Roots: []string{"/"}, Started: time.Now()})
			if err != nil {
				return err
			}
			if err := r.Files.MarkDeleted(ctx, m, ids, scan, time.Now()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
