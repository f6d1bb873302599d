package repo

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/dto"
)

// EachNameSize calls fn for every file row, DEL rows and archive entries
// included, in storage order. It streams. Extensions are told apart in Go:
// SQL has no portable "text after the last dot", and the pass over the table
// costs less than grouping by an expression would.
func (f *Files) EachNameSize(ctx context.Context, fn func(dto.NameSize) error) error {
	rows, err := f.x.QueryContext(ctx, "SELECT machine, name, size, operation = 'DEL', is_archived <> 0 FROM files")
	if err != nil {
		return fmt.Errorf("tally files: %w", err)
	}
	defer rows.Close()
	var r dto.NameSize
	for rows.Next() {
		if err := rows.Scan(&r.Machine, &r.Name, &r.Size, &r.Deleted, &r.Archived); err != nil {
			return fmt.Errorf("tally files: %w", err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("tally files: %w", err)
	}
	return nil
}

// DistinctContents returns the number of distinct contents among present
// files, archive entries included: from content_totals while the summary is
// current.
func (f *Files) DistinctContents(ctx context.Context) (int64, error) {
	if ok, err := f.SummaryCurrent(ctx); err != nil {
		return 0, err
	} else if ok {
		t, err := f.contentTotals(ctx)
		return t.Contents, err
	}
	var n int64
	err := sqlx.GetContext(ctx, f.x, &n, "SELECT COUNT(DISTINCT sha256) FROM files WHERE operation <> 'DEL'")
	if err != nil {
		return 0, fmt.Errorf("count contents: %w", err)
	}
	return n, nil
}

// Machines returns the names of the machines with rows in the catalog, in
// order. It walks the (machine, path) index one machine at a time, so it costs
// a few lookups per machine, not a pass over the files.
func (f *Files) Machines(ctx context.Context) ([]string, error) {
	var out []string
	err := sqlx.SelectContext(ctx, f.x, &out, `WITH RECURSIVE m(machine) AS (
			SELECT MIN(machine) FROM files
			UNION ALL
			SELECT (SELECT MIN(f.machine) FROM files f WHERE f.machine > m.machine) FROM m WHERE m.machine IS NOT NULL)
		SELECT machine FROM m WHERE machine IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("list machines: %w", err)
	}
	return out, nil
}
