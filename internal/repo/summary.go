package repo

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
)

// The summary tables, file_totals and contents, are kept current by
// triggers on files (migrations/*/0011_summary.sql), and content_totals by
// triggers on contents (0015_content_totals.sql), so that stats and the
// common dupes listings read a few rows instead of every row. They are stale
// while a scan has them set aside with the indexes (see db.SummaryCurrent):
// then, and for what they cannot answer, queries read the rows.

// SummaryCurrent reports whether the summary tables hold the totals of the
// rows of files.
func (f *Files) SummaryCurrent(ctx context.Context) (bool, error) {
	return db.SummaryCurrent(ctx, f.x)
}

// EachFileTotal calls fn for every row of file_totals.
func (f *Files) EachFileTotal(ctx context.Context, fn func(dto.FileTotal) error) error {
	rows, err := f.x.QueryContext(ctx, "SELECT machine, kind, ext, files, bytes FROM file_totals")
	if err != nil {
		return fmt.Errorf("read file totals: %w", err)
	}
	defer rows.Close()
	var t dto.FileTotal
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
func (f *Files) summarized(ctx context.Context, d dupeFilter) (bool, error) {
	if d.Machine != "" || len(d.Under) > 0 || d.Name != "" || d.IncludeArchived {
		return false, nil
	}
	ok, err := db.SummaryCurrent(ctx, f.x)
	if err != nil || !ok {
		return false, err
	}
	t, err := f.contentTotals(ctx)
	return t.Mixed == 0, err
}

// summaryGroups returns the condition on contents aliased g that selects
// the groups d lists, with its arguments; see summarized.
func summaryGroups(d dupeFilter) (string, []any) {
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
//
// binary is the dialect's BinaryCollation: files are ordered by machine
// bytewise, as a held listing orders them in Go.
func summaryDupesQuery(d dupeFilter, binary string) (string, []any) {
	where, args := summaryGroups(d)
	return `SELECT g.sha256, g.size, g.files, g.files - g.extra,
			f2.machine, f2.path, f2.archive_path,
			CASE WHEN f2.inode <> 0 THEN f2.device ELSE 0 END,
			f2.inode
		FROM contents g
		CROSS JOIN files f2
		WHERE ` + where + ` AND f2.sha256 = g.sha256 AND f2.operation <> 'DEL' AND f2.is_archived = 0
		ORDER BY (g.files - g.extra - 1) * g.size DESC, g.sha256, f2.path, f2.machine` + binary + `, f2.archive_path`, args
}

// summaryContentDupesQuery is contentDupesQuery when the summary answers
// d: the groups from contents_dupes, each group's files from
// files_content, in content order, which finds them in adjacent pages.
// Present plain files have no archive path, and their device counts only
// with an inode (holdDupes sees to it).
func summaryContentDupesQuery(d dupeFilter) (string, []any) {
	where, args := summaryGroups(d)
	return `SELECT g.sha256, f2.size, f2.machine, f2.path, f2.device, f2.inode
		FROM contents g
		CROSS JOIN files f2
		WHERE ` + where + ` AND f2.sha256 = g.sha256 AND f2.operation <> 'DEL' AND f2.is_archived = 0
		ORDER BY g.sha256`, args
}

// totalsFilter is the filter whose duplicate totals content_totals keeps:
// that of `indexer dupes` without flags, which stats counts.
func totalsFilter(d dupeFilter) bool {
	return d.MinSize == 1 && d.MaxSize < 0
}

// contentTotals are the sums of content_totals' rows.
type contentTotals struct {
	Contents    int64 `db:"contents"`
	Groups      int64 `db:"dupe_groups"`
	Files       int64 `db:"dupe_files"`
	Reclaimable int64 `db:"reclaimable"`
	Mixed       int64 `db:"mixed"` // contents that may be held under several sizes
}

// contentTotals returns the totals content_totals keeps: the sum of its
// rows, a few (one per transaction that wrote since the last fold).
func (f *Files) contentTotals(ctx context.Context) (contentTotals, error) {
	var t contentTotals
	err := sqlx.GetContext(ctx, f.x, &t, `SELECT COALESCE(SUM(contents), 0) AS contents,
		COALESCE(SUM(dupe_groups), 0) AS dupe_groups, COALESCE(SUM(dupe_files), 0) AS dupe_files,
		COALESCE(SUM(reclaimable), 0) AS reclaimable, COALESCE(SUM(mixed), 0) AS mixed FROM content_totals`)
	if err != nil {
		return t, fmt.Errorf("read content totals: %w", err)
	}
	return t, nil
}

// FoldContentTotals adds the rows of content_totals that the triggers of
// finished transactions wrote (one per transaction, on PostgreSQL) into its
// slot 0 and deletes them, so that the totals stay a few rows. It never
// waits for a writer: a transaction writes its own row only, and the rows of
// those still running are not visible to it. Folds wait for one another, on
// slot 0, which they lock first (making it, when a restore emptied the
// table). On SQLite the triggers write slot 0 themselves: nothing to fold.
func (f *Files) FoldContentTotals(ctx context.Context) error {
	if _, err := f.x.ExecContext(ctx, `INSERT INTO content_totals (slot, contents, dupe_groups, dupe_files, reclaimable, mixed)
		VALUES (0, 0, 0, 0, 0, 0) ON CONFLICT (slot) DO UPDATE SET contents = content_totals.contents`); err != nil {
		return fmt.Errorf("fold content totals: %w", err)
	}
	rows, err := f.x.QueryContext(ctx, "DELETE FROM content_totals WHERE slot <> 0 RETURNING contents, dupe_groups, dupe_files, reclaimable, mixed")
	if err != nil {
		return fmt.Errorf("fold content totals: %w", err)
	}
	defer rows.Close()
	var sum, t contentTotals
	for rows.Next() {
		if err := rows.Scan(&t.Contents, &t.Groups, &t.Files, &t.Reclaimable, &t.Mixed); err != nil {
			return fmt.Errorf("fold content totals: %w", err)
		}
		sum.Contents += t.Contents
		sum.Groups += t.Groups
		sum.Files += t.Files
		sum.Reclaimable += t.Reclaimable
		sum.Mixed += t.Mixed
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("fold content totals: %w", err)
	}
	rows.Close()
	if sum == (contentTotals{}) {
		return nil
	}
	_, err = f.x.ExecContext(ctx, f.x.Rebind(`UPDATE content_totals SET contents = contents + ?, dupe_groups = dupe_groups + ?,
		dupe_files = dupe_files + ?, reclaimable = reclaimable + ?, mixed = mixed + ? WHERE slot = 0`),
		sum.Contents, sum.Groups, sum.Files, sum.Reclaimable, sum.Mixed)
	if err != nil {
		return fmt.Errorf("fold content totals: %w", err)
	}
	return nil
}

// summaryTotalsQuery is the DupeTotals statement when the summary answers d.
func summaryTotalsQuery(d dupeFilter) (string, []any) {
	where, args := summaryGroups(d)
	return `SELECT COUNT(*) AS groups_total, COALESCE(SUM(g.files), 0) AS files_total,
		COALESCE(SUM((g.files - g.extra - 1) * g.size), 0) AS reclaimable_total
		FROM contents g WHERE ` + where, args
}
