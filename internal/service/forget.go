package service

import (
	"context"
	"time"

	"github.com/indexer/indexer/internal/repo"
	"github.com/indexer/indexer/internal/uow"
)

// Forgotten counts the rows Forget removed, and how many of them were
// entries inside archives.
type Forgotten struct {
	Rows           int64 `json:"rows"`
	ArchiveEntries int64 `json:"archive_entries"`
}

// ForgetUnder removes from the catalog the rows of machine at or below each
// absolute path, whatever their state, in transactions of chunkFiles rows,
// with the directories there; the directories above lose their digests
// until a scan lists them again (they are no longer held in full). Files
// on disk are never touched. What was removed before an error stays
// removed, and is counted.
func (c *Catalog) ForgetUnder(ctx context.Context, machine string, paths []string) (Forgotten, error) {
	var out Forgotten
	for _, p := range paths {
		err := c.forgetLoop(ctx, &out, func(ctx context.Context, r *uow.Repos) (repo.Forgettable, error) {
			got, err := r.Files.ForgetUnder(ctx, machine, p, chunkFiles)
			if err != nil || got.Rows == 0 {
				return got, err
			}
			// In the same transaction: no directory's digests or stored
			// entries outlive the rows they were computed from.
			return got, r.Dirs.Forget(ctx, machine, p)
		})
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// ForgetDeleted removes the DEL rows of every machine that no scan has seen
// since before (all of them when before is zero), in transactions of
// chunkFiles rows.
func (c *Catalog) ForgetDeleted(ctx context.Context, before time.Time) (Forgotten, error) {
	var out Forgotten
	err := c.forgetLoop(ctx, &out, func(ctx context.Context, r *uow.Repos) (repo.Forgettable, error) {
		return r.Files.ForgetDeleted(ctx, before, chunkFiles)
	})
	return out, err
}

// forgetLoop runs one chunk per transaction until a chunk removes nothing.
func (c *Catalog) forgetLoop(ctx context.Context, out *Forgotten, chunk func(context.Context, *uow.Repos) (repo.Forgettable, error)) error {
	for {
		var got repo.Forgettable
		err := c.uow.Do(ctx, "forget", func(ctx context.Context, r *uow.Repos) error {
			var err error
			got, err = chunk(ctx, r)
			return err
		})
		if err != nil {
			return err
		}
		out.Rows += got.Rows
		out.ArchiveEntries += got.ArchiveEntries
		if got.Rows == 0 {
			return nil
		}
	}
}
