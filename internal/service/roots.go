package service

import (
	"context"
	"strings"

	"github.com/indexer/indexer/internal/uow"
)

// Covered tells whether some scan of machine ("" for any machine) had a root
// that is path, above it or below it: whether the catalog can know anything
// below the absolute path.
func (c *Catalog) Covered(ctx context.Context, machine, path string) (bool, error) {
	var roots []string
	err := c.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		var err error
		roots, err = r.Scans.Roots(ctx, machine)
		return err
	})
	if err != nil {
		return false, err
	}
	for _, r := range roots {
		if below(path, r) || below(r, path) {
			return true, nil
		}
	}
	return false, nil
}

// below tells whether p is root or lies below it.
func below(p, root string) bool {
	if p == root || root == "/" {
		return true
	}
	return strings.HasPrefix(p, strings.TrimSuffix(root, "/")+"/")
}
