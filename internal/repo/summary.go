package repo

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/db"
)

// The summary tables, file_totals and contents, are kept current by
// triggers on files (migrations/*/0011_summary.sql), so that stats and the
// common dupes listings read a few rows instead of every row. They are stale
// while a scan has them set aside with the indexes (see db.SummaryCurrent):
// then, and for what they cannot answer, queries read the rows.

// FileTotal is one row of file_totals: the rows of one machine and kind
// ("file", "entry" or "deleted") and, for "file", one raw extension.
type FileTotal struct {
	Machine string
	Kind    string
	Ext     string // the bytes after the name's last dot, case kept; "" for other kinds
	Files   int64
	Bytes   int64
}

// SummaryCurrent reports whether the summary tables hold the totals of the
// rows of files.
func (f *Files) SummaryCurrent(ctx context.Context) (bool, error) {
	return db.SummaryCurrent(ctx, f.x)
}

// EachFileTotal calls fn for every row of file_totals.
func (f *Files) EachFileTotal(ctx context.Context, fn func(FileTotal) error) error {
	rows, err := f.x.QueryContext(ctx, "SELECT machine, kind, ext, files, bytes FROM file_totals")
	if err != nil {
		return fmt.Errorf("read file totals: %w", err)
	}
	defer rows.Close()
	var t FileTotal
	var ext []byte
	for rows.Next() {
		if err := rows.Scan(&t.Machine, &t.Kind, &ext, &t.Files, &t.Bytes); err != nil {
			return fmt.Errorf("read file totals: %w", err)
		}
		t.Ext = string(ext)
		if err := fn(t); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read file totals: %w", err)
	}
	return nil
}

// summarized reports whether the summary can answer d's duplicates: every
// machine, present plain files, any size bounds (the files of a content
// have its size, so a bound takes all of them or none), and the summary
// current and holding no content under two sizes. Other filters (machine,
// subtrees, names, archive entries) need the rows.
func (f *Files) summarized(ctx context.Context, d DupeFilter) (bool, error) {
	if d.Machine != "" || len(d.Under) > 0 || d.Name != "" || d.IncludeArchived {
		return false, nil
	}
	ok, err := db.SummaryCurrent(ctx, f.x)
	if err != nil || !ok {
		return false, err
	}
	var mixed int
	if err := sqlx.GetContext(ctx, f.x, &mixed, summaryMixedQuery); err != nil {
		return false, fmt.Errorf("look for contents of several sizes: %w", err)
	}
	return mixed == 0, nil
}

// summaryMixedQuery answers 1 when a content may be held under several
// sizes (see summarized).
const summaryMixedQuery = "SELECT CASE WHEN EXISTS (SELECT 1 FROM contents WHERE sized <> files + entries) THEN 1 ELSE 0 END"

// rawSummaryUsable is summarized's check of the summary itself, on a raw
// connection: current, and holding no content under two sizes.
func rawSummaryUsable(ctx context.Context, c *db.RawConn) (bool, error) {
	var current, mixed int64
	for _, q := range []struct {
		sql string
		v   *int64
	}{{db.SummaryCurrentQuery, &current}, {summaryMixedQuery, &mixed}} {
		rows, err := c.Query(ctx, q.sql)
		if err != nil {
			return false, fmt.Errorf("read whether the summary answers: %w", err)
		}
		if rows.Next() {
			*q.v = rows.Int64(0)
		}
		if err := rows.Close(); err != nil {
			return false, fmt.Errorf("read whether the summary answers: %w", err)
		}
	}
	return current == 1 && mixed == 0, nil
}

// summaryGroups returns the condition on contents aliased g that selects
// the groups d lists, with its arguments; see summarized.
func summaryGroups(d DupeFilter) (string, []any) {
	where, args := "g.files - g.extra >= 2 AND g.size >= ?", []any{d.MinSize}
	if d.MaxSize >= 0 {
		where, args = where+" AND g.size <= ?", append(args, d.MaxSize)
	}
	return where, args
}

// summaryDupesQuery is the Dupes statement when the summary answers d: the
// groups in content order from contents_dupes, each group's files from
// files_content, then sorted. Walking contents in content order finds the
// groups' files in adjacent pages of files_content; walking them in listing
// order, which needs no sort, seeks all over it and measured slower.
func summaryDupesQuery(d DupeFilter) (string, []any) {
	where, args := summaryGroups(d)
	return `SELECT g.sha256, g.size, g.files, g.files - g.extra,
			f2.machine, f2.path, f2.archive_path,
			CASE WHEN f2.inode <> 0 THEN f2.device ELSE 0 END,
			f2.inode
		FROM contents g
		CROSS JOIN files f2
		WHERE ` + where + ` AND f2.sha256 = g.sha256 AND f2.operation <> 'DEL' AND f2.is_archived = 0
		ORDER BY (g.files - g.extra - 1) * g.size DESC, g.sha256, f2.path, f2.machine, f2.archive_path`, args
}

// summaryContentDupesQuery is contentDupesQuery when the summary answers
// d: the groups from contents_dupes, each group's files from
// files_content, in content order, which finds them in adjacent pages.
// Present plain files have no archive path, and their device counts only
// with an inode (holdDupes sees to it).
func summaryContentDupesQuery(d DupeFilter) (string, []any) {
	where, args := summaryGroups(d)
	return `SELECT g.sha256, f2.size, f2.machine, f2.path, f2.device, f2.inode
		FROM contents g
		CROSS JOIN files f2
		WHERE ` + where + ` AND f2.sha256 = g.sha256 AND f2.operation <> 'DEL' AND f2.is_archived = 0
		ORDER BY g.sha256`, args
}

// summaryTotalsQuery is the DupeTotals statement when the summary answers d.
func summaryTotalsQuery(d DupeFilter) (string, []any) {
	where, args := summaryGroups(d)
	return `SELECT COUNT(*) AS groups_total, COALESCE(SUM(g.files), 0) AS files_total,
		COALESCE(SUM((g.files - g.extra - 1) * g.size), 0) AS reclaimable_total
		FROM contents g WHERE ` + where, args
}
