package db

import (
	"context"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
)

// The summary is the tables file_totals and contents, which triggers on
// files keep current (migrations/*/0011_summary.sql), and content_totals,
// which triggers on contents keep current (0015_content_totals.sql), so
// that stats and dupes read a few rows instead of every row of files.
//
// Keeping contents current costs a random B-tree insert and an index lookup
// per new row, which a scan that sets the indexes aside cannot afford (the
// lookup has no index to use). DeferIndexes therefore sets the triggers
// aside with the indexes, as one entry of deferred_indexes whose statement
// rebuilds the three tables from the rows and creates the triggers again;
// it is built after the indexes. While that entry exists the summary is stale and
// SummaryCurrent says so: queries read the rows instead.

// summaryEntry is the name of the summary's entry in deferred_indexes.
const summaryEntry = "summary"

// summaryRebuild computes the tables from the rows of files, as migrations
// 0011 and 0015 do for SQLite, with the triggers set aside. The hard links
// (extra) are counted from the contents held by at least two files, found
// through contents_dupes (extra is still 0 there, so files - extra >= 2 is
// files >= 2), each looking its files up in files_content: left to itself
// the planner walks all of files_content and looks each row's content up:
// 1.0-1.1 s against 0.35 s on the 1,000,000 tiny files (10% duplicates),
// 1.1-1.4 s against 0.6 s on a generated catalog of 1,000,000 rows.
const summaryRebuild = `DELETE FROM file_totals;
DELETE FROM contents;
DELETE FROM content_totals;
INSERT INTO file_totals (machine, kind, ext, files, bytes)
    SELECT machine, kind, ext, COUNT(*), SUM(size) FROM (SELECT machine, size,
            CASE WHEN operation = 'DEL' THEN 'deleted' WHEN is_archived <> 0 THEN 'entry' ELSE 'file' END AS kind,
            CASE WHEN operation <> 'DEL' AND is_archived = 0 THEN indexer_ext(name) ELSE X'' END AS ext
        FROM files) t
    GROUP BY machine, kind, ext;
INSERT INTO contents (sha256, size, files, entries, sized, extra)
    SELECT sha256, MIN(size), SUM(is_archived = 0), SUM(is_archived <> 0),
        CASE WHEN MIN(size) = MAX(size) THEN COUNT(*) ELSE 0 END, 0
    FROM files WHERE sha256 IS NOT NULL AND operation <> 'DEL' GROUP BY sha256;
UPDATE contents SET extra = x.extra FROM (SELECT s.sha256 AS sha256, SUM(s.k - 1) AS extra
        FROM (SELECT f.sha256 AS sha256, COUNT(*) AS k FROM contents c CROSS JOIN files f
            WHERE c.files - c.extra >= 2 AND f.sha256 = c.sha256
                AND f.operation <> 'DEL' AND f.is_archived = 0 AND f.inode <> 0
            GROUP BY f.sha256, f.machine, f.device, f.inode HAVING COUNT(*) > 1) s
        GROUP BY s.sha256) x
    WHERE contents.sha256 = x.sha256;
INSERT INTO content_totals (slot, contents, dupe_groups, dupe_files, reclaimable, mixed)
    SELECT 0, COUNT(*), COALESCE(SUM(files - extra >= 2 AND size >= 1), 0),
        COALESCE(SUM(CASE WHEN files - extra >= 2 AND size >= 1 THEN files ELSE 0 END), 0),
        COALESCE(SUM(CASE WHEN files - extra >= 2 AND size >= 1 THEN (files - extra - 1) * size ELSE 0 END), 0),
        COALESCE(SUM(sized <> files + entries), 0)
    FROM contents`

// deferSummary drops the triggers on files and contents, recording in
// deferred_indexes how to rebuild the summary and create them again.
// Nothing when there are none (already set aside).
func deferSummary(ctx context.Context, x sqlx.ExtContext) error {
	var trig []struct {
		Name string `db:"name"`
		SQL  string `db:"sql"`
	}
	err := sqlx.SelectContext(ctx, x, &trig, `SELECT name, sql FROM sqlite_master
		WHERE type = 'trigger' AND tbl_name IN ('files', 'contents') ORDER BY name`)
	if err != nil {
		return fmt.Errorf("list triggers of the summary: %w", err)
	}
	if len(trig) == 0 {
		return nil
	}
	stmts := []string{summaryRebuild}
	for _, t := range trig {
		stmts = append(stmts, t.SQL)
	}
	if _, err := x.ExecContext(ctx, "INSERT INTO deferred_indexes (name, sql) VALUES (?, ?)",
		summaryEntry, strings.Join(stmts, ";\n")); err != nil {
		return fmt.Errorf("set the summary aside: %w", err)
	}
	for _, t := range trig {
		if _, err := x.ExecContext(ctx, `DROP TRIGGER "`+t.Name+`"`); err != nil {
			return fmt.Errorf("set trigger %s aside: %w", t.Name, err)
		}
	}
	return nil
}

// SummaryCurrent reports whether file_totals, contents and content_totals
// hold the totals of the rows of files: false while a scan has them set
// aside.
func SummaryCurrent(ctx context.Context, x sqlx.QueryerContext) (bool, error) {
	var n int
	if err := sqlx.GetContext(ctx, x, &n, "SELECT COUNT(*) FROM deferred_indexes WHERE name = '"+summaryEntry+"'"); err != nil {
		return false, fmt.Errorf("read whether the summary is current: %w", err)
	}
	return n == 0, nil
}
