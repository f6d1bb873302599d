package repo

import (
	"context"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
)

// Indexes sets the files table's secondary indexes aside while a scan adds
// many rows, and builds them again. The engine-specific part is in package db.
type Indexes struct {
	x Executor
	t *Touched
}

// NewIndexes returns an Indexes working on x.
func NewIndexes(x Executor) *Indexes { return &Indexes{x: x} }

// Touching makes i record the tags of its writes in t, and returns i.
func (i *Indexes) Touching(t *Touched) *Indexes {
	i.t = t
	return i
}

// Defer drops the secondary indexes of files, keeping how to build them, and
// returns how many it dropped (0 when they were already set aside). Two stay:
// files_path takes new rows in walk order, a directory's files together, so
// keeping it costs little, and files_links only takes hard links.
func (i *Indexes) Defer(ctx context.Context) (int, error) {
	i.t.Add(dto.TagIndexes)
	return db.DeferIndexes(ctx, i.x, "files", "files_path", "files_links")
}

// Build builds the index name set aside; nothing when it is not (any more).
func (i *Indexes) Build(ctx context.Context, name string) error {
	i.t.Add(dto.TagIndexes)
	return db.BuildDeferredIndex(ctx, i.x, name)
}

// Deferred returns the names of the indexes set aside and not yet built.
func (i *Indexes) Deferred(ctx context.Context) ([]string, error) {
	return db.DeferredIndexes(ctx, i.x)
}
