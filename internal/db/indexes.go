package db

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// A table's secondary indexes cost a B-tree insert each per new row, most of
// them at random places. A scan that adds many rows sets them aside, adds the
// rows into the bare table, and builds each index again once, by one sorted
// pass, when it ends: several times cheaper than keeping them up to date. The
// statements that build them are kept in deferred_indexes, in the same
// transaction as the drop, so an index set aside is never forgotten: if the
// scan dies first, the next one builds it. Queries are correct without the
// indexes, only slower. Indexes that enforce a constraint (UNIQUE, PRIMARY
// KEY) have no statement of their own in sqlite_master and are never set aside.

// DeferIndexes drops the secondary indexes of table, recording how to build
// each in deferred_indexes, and returns how many it dropped. Run it in a write
// transaction.
func DeferIndexes(ctx context.Context, x sqlx.ExtContext, table string) (int, error) {
	var idx []struct {
		Name string `db:"name"`
		SQL  string `db:"sql"`
	}
	err := sqlx.SelectContext(ctx, x, &idx, `SELECT name, sql FROM sqlite_master
		WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY name`, table)
	if err != nil {
		return 0, fmt.Errorf("list indexes of %s: %w", table, err)
	}
	for _, i := range idx {
		if _, err := x.ExecContext(ctx, "INSERT INTO deferred_indexes (name, sql) VALUES (?, ?)", i.Name, i.SQL); err != nil {
			return 0, fmt.Errorf("set index %s aside: %w", i.Name, err)
		}
		if _, err := x.ExecContext(ctx, `DROP INDEX "`+i.Name+`"`); err != nil {
			return 0, fmt.Errorf("set index %s aside: %w", i.Name, err)
		}
	}
	return len(idx), nil
}

// BuildDeferredIndexes builds every index DeferIndexes set aside and returns
// their names. Run it in a write transaction: the indexes appear all at once.
func BuildDeferredIndexes(ctx context.Context, x sqlx.ExtContext) ([]string, error) {
	var idx []struct {
		Name string `db:"name"`
		SQL  string `db:"sql"`
	}
	if err := sqlx.SelectContext(ctx, x, &idx, "SELECT name, sql FROM deferred_indexes ORDER BY name"); err != nil {
		return nil, fmt.Errorf("list deferred indexes: %w", err)
	}
	names := make([]string, 0, len(idx))
	for _, i := range idx {
		if _, err := x.ExecContext(ctx, i.SQL); err != nil {
			return nil, fmt.Errorf("build index %s: %w", i.Name, err)
		}
		if _, err := x.ExecContext(ctx, "DELETE FROM deferred_indexes WHERE name = ?", i.Name); err != nil {
			return nil, fmt.Errorf("build index %s: %w", i.Name, err)
		}
		names = append(names, i.Name)
	}
	return names, nil
}

// DeferredIndexes returns the names of the indexes set aside and not yet built.
func DeferredIndexes(ctx context.Context, x sqlx.QueryerContext) ([]string, error) {
	var names []string
	if err := sqlx.SelectContext(ctx, x, &names, "SELECT name FROM deferred_indexes ORDER BY name"); err != nil {
		return nil, fmt.Errorf("list deferred indexes: %w", err)
	}
	return names, nil
}
