package repo

import (
	"context"

	"github.com/indexer/indexer/internal/db"
)

// Indexes sets the files table's secondary indexes aside while a scan adds
// many rows, and builds them again. The engine-specific part is in package db.
type Indexes struct{ x Executor }

// NewIndexes returns an Indexes working on x.
func NewIndexes(x Executor) *Indexes { return &Indexes{x: x} }

// Defer drops the secondary indexes of files, keeping how to build them, and
// returns how many it dropped (0 when they were already set aside). Two stay:
// files_path takes new rows in walk order, a directory's files together, so
// keeping it costs little, and files_links only takes hard links.
func (i *Indexes) Defer(ctx context.Context) (int, error) {
	return db.DeferIndexes(ctx, i.x, "files", "files_path", "files_links")
}

// Build builds the index name set aside; nothing when it is not (any more).
func (i *Indexes) Build(ctx context.Context, name string) error {
	return db.BuildDeferredIndex(ctx, i.x, name)
}

// Deferred returns the names of the indexes set aside and not yet built.
func (i *Indexes) Deferred(ctx context.Context) ([]string, error) {
	return db.DeferredIndexes(ctx, i.x)
}
