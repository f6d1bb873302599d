package service

import (
	"context"
	"log/slog"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/uow"
)

// Catalog is an open catalog and the use cases over it. It is safe for
// concurrent use, and stays valid across a restore: it reaches the pools only
// through db.DB, which swaps them in place.
type Catalog struct {
	db  *db.DB
	uow *uow.UoW
	log *slog.Logger
}

// Open opens (creating if needed) the catalog at path.
func Open(ctx context.Context, path string, opts db.Options, log *slog.Logger) (*Catalog, error) {
	d, err := db.Open(ctx, path, opts)
	if err != nil {
		return nil, err
	}
	return New(d, log), nil
}

// New wraps an open database.
func New(d *db.DB, log *slog.Logger) *Catalog {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Catalog{db: d, uow: uow.New(d), log: log}
}

// DB returns the underlying database.
func (c *Catalog) DB() *db.DB { return c.db }

// UoW returns the unit of work.
func (c *Catalog) UoW() *uow.UoW { return c.uow }

// Close closes the catalog.
func (c *Catalog) Close() error { return c.db.Close() }
