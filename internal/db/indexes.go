package db

import (
	"context"
	"fmt"
	"slices"

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

// DeferIndexes drops the secondary indexes of table, except those named in
// keep, recording how to build each in deferred_indexes, and returns how many
// it dropped. Run it in a write transaction.
//
// On a shared catalog (PostgreSQL) it sets nothing aside and returns 0:
// other machines write the same table at the same time, and would pay for
// one scan's gain (see Dialect.MayDeferIndexes).
func DeferIndexes(ctx context.Context, x sqlx.ExtContext, table string, keep ...string) (int, error) {
	if !DialectOf(x).MayDeferIndexes() {
		return 0, nil
	}
	var idx []struct {
		Name string `db:"name"`
		SQL  string `db:"sql"`
	}
	err := sqlx.SelectContext(ctx, x, &idx, `SELECT name, sql FROM sqlite_master
		WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY name`, table)
	if err != nil {
		return 0, fmt.Errorf("list indexes of %s: %w", table, err)
	}
	n := 0
	for _, i := range idx {
		if slices.Contains(keep, i.Name) {
			continue
		}
		n++
		if _, err := x.ExecContext(ctx, "INSERT INTO deferred_indexes (name, sql) VALUES (?, ?)", i.Name, i.SQL); err != nil {
			return 0, fmt.Errorf("set index %s aside: %w", i.Name, err)
		}
		if _, err := x.ExecContext(ctx, `DROP INDEX "`+i.Name+`"`); err != nil {
			return 0, fmt.Errorf("set index %s aside: %w", i.Name, err)
		}
	}
	return n, nil
}

// BuildDeferredIndex builds the index name that DeferIndexes set aside and
// forgets its statement. An index that exists already (another scan, or a
// migration, made it) is only forgotten; one not set aside is left alone.
// Run it in a write transaction.
func BuildDeferredIndex(ctx context.Context, x sqlx.ExtContext, name string) error {
	if !DialectOf(x).MayDeferIndexes() {
		return nil
	}
	var stmt []string
	if err := sqlx.SelectContext(ctx, x, &stmt, "SELECT sql FROM deferred_indexes WHERE name = ?", name); err != nil {
		return fmt.Errorf("build index %s: %w", name, err)
	}
	if len(stmt) == 0 {
		return nil
	}
	var exists int
	if err := sqlx.GetContext(ctx, x, &exists, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = ?", name); err != nil {
		return fmt.Errorf("build index %s: %w", name, err)
	}
	if exists == 0 {
		if _, err := x.ExecContext(ctx, stmt[0]); err != nil {
			return fmt.Errorf("build index %s: %w", name, err)
		}
	}
	if _, err := x.ExecContext(ctx, "DELETE FROM deferred_indexes WHERE name = ?", name); err != nil {
		return fmt.Errorf("build index %s: %w", name, err)
	}
	return nil
}

// buildAllDeferred builds every index set aside, in the caller's transaction.
func buildAllDeferred(ctx context.Context, x sqlx.ExtContext) error {
	names, err := DeferredIndexes(ctx, x)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := BuildDeferredIndex(ctx, x, n); err != nil {
			return err
		}
	}
	return nil
}

// DeferredIndexes returns the names of the indexes set aside and not yet built.
func DeferredIndexes(ctx context.Context, x sqlx.QueryerContext) ([]string, error) {
	var names []string
	if err := sqlx.SelectContext(ctx, x, &names, "SELECT name FROM deferred_indexes ORDER BY name"); err != nil {
		return nil, fmt.Errorf("list deferred indexes: %w", err)
	}
	return names, nil
}
