package repo

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/dto"
)

// Changes stores the change log: one row per file a scan added, modified or
// marked deleted, written in the transaction that changes the file's row.
type Changes struct {
	x Executor
	t *Touched
}

// NewChanges returns a Changes working on x.
func NewChanges(x Executor) *Changes { return &Changes{x: x} }

// Touching makes c record the tags of its writes in t, and returns c.
func (c *Changes) Touching(t *Touched) *Changes {
	c.t = t
	return c
}

// Record appends changes to the log.
func (c *Changes) Record(ctx context.Context, changes []dto.Change) error {
	c.t.Add(dto.TagChanges)
	if len(changes) == 0 {
		return nil
	}
	st, err := c.x.PreparexContext(ctx, c.x.Rebind(`INSERT INTO changes (scan_id, machine, path, archive_path, op,
		old_size, old_sha256, new_size, new_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`))
	if err != nil {
		return fmt.Errorf("record changes: %w", err)
	}
	defer st.Close()
	for _, ch := range changes {
		var oldSize, newSize any
		if ch.Op != dto.OpAdd {
			oldSize = ch.OldSize
		}
		if ch.Op != dto.OpDel {
			newSize = ch.NewSize
		}
		oldSum, err := rawDigest(ch.OldSHA256)
		if err != nil {
			return fmt.Errorf("record change of %s: %w", ch.Path, err)
		}
		newSum, err := rawDigest(ch.NewSHA256)
		if err != nil {
			return fmt.Errorf("record change of %s: %w", ch.Path, err)
		}
		if _, err := st.ExecContext(ctx, ch.ScanID, ch.Machine, ch.Path, ch.ArchivePath, string(ch.Op),
			oldSize, oldSum, newSize, newSum); err != nil {
			return fmt.Errorf("record changes: %w", err)
		}
	}
	return nil
}

// RecordAdded logs the addition by scan scanID of the files whose rows
// Files.InsertMany has just made with ids, from their rows: one statement
// for many files, where Record runs one per change. A first scan adds
// every file it sees, so this is most of its change log.
//
// The rows of one InsertMany are numbered in a row, so each run of
// consecutive ids is read as one range of the primary key: a range is one
// seek and a walk along the table, where a list of ids is sorted and looked
// up one by one.
func (c *Changes) RecordAdded(ctx context.Context, ids []int64, scanID int64) error {
	c.t.Add(dto.TagChanges)
	for len(ids) > 0 {
		n := 1
		for n < len(ids) && ids[n] == ids[n-1]+1 {
			n++
		}
		_, err := c.x.ExecContext(ctx, c.x.Rebind(`INSERT INTO changes (scan_id, machine, path, archive_path, op, new_size, new_sha256)
			SELECT ?, machine, path, archive_path, 'ADD', size, sha256 FROM files WHERE id BETWEEN ? AND ? ORDER BY id`),
			scanID, ids[0], ids[n-1])
		if err != nil {
			return fmt.Errorf("record additions: %w", err)
		}
		ids = ids[n:]
	}
	return nil
}

// RecordDeleted logs the deletion by scan scanID of the files with ids that
// are not DEL yet, from their rows. Call it before Files.MarkDeleted, in the
// same transaction.
func (c *Changes) RecordDeleted(ctx context.Context, ids []int64, scanID int64) error {
	c.t.Add(dto.TagChanges)
	for start := 0; start < len(ids); start += ChunkSize {
		chunk := ids[start:min(start+ChunkSize, len(ids))]
		q, args, err := sqlx.In(`INSERT INTO changes (scan_id, machine, path, archive_path, op, old_size, old_sha256)
			SELECT ?, machine, path, archive_path, 'DEL', size, sha256 FROM files
			WHERE id IN (?) AND operation <> 'DEL'`, scanID, chunk)
		if err != nil {
			return err
		}
		if _, err := c.x.ExecContext(ctx, c.x.Rebind(q), args...); err != nil {
			return fmt.Errorf("record deletions: %w", err)
		}
	}
	return nil
}

// Each calls fn with the changes of machine recorded by the scans with ids
// in (after, upTo], whose path is under (every path when under is empty),
// ordered by path, archive path and then the order they happened in. It
// streams.
func (c *Changes) Each(ctx context.Context, machine string, after, upTo int64, under string, fn func(dto.Change) error) error {
	q := `SELECT id, scan_id, machine, path, archive_path, op, old_size, old_sha256, new_size, new_sha256
		FROM changes WHERE scan_id > ? AND scan_id <= ? AND machine = ?`
	args := []any{after, upTo, machine}
	if under != "" {
		cond, a := underCond("path", under)
		q += " AND " + cond
		args = append(args, a...)
	}
	rows, err := c.x.QueryContext(ctx, c.x.Rebind(q+" ORDER BY path, archive_path, scan_id, id"), args...)
	if err != nil {
		return fmt.Errorf("read change log: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var ch dto.Change
		var op string
		var oldSize, newSize sql.NullInt64
		var oldSum, newSum []byte
		if err := rows.Scan(&ch.ID, &ch.ScanID, &ch.Machine, &ch.Path, &ch.ArchivePath, &op,
			&oldSize, &oldSum, &newSize, &newSum); err != nil {
			return fmt.Errorf("read change log: %w", err)
		}
		ch.Op, ch.OldSize, ch.NewSize = dto.Operation(op), oldSize.Int64, newSize.Int64
		ch.OldSHA256, ch.NewSHA256 = hexOf(oldSum), hexOf(newSum)
		if err := fn(ch); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read change log: %w", err)
	}
	return nil
}

// Start returns the id of the last scan whose changes the log does not hold:
// scans up to it ran before the log existed, or were pruned.
func (c *Changes) Start(ctx context.Context) (int64, error) {
	var n int64
	if err := sqlx.GetContext(ctx, c.x, &n, "SELECT COALESCE(MAX(after_scan), 0) FROM change_log_start"); err != nil {
		return 0, fmt.Errorf("read change log start: %w", err)
	}
	return n, nil
}

// Prune drops the changes of the scans with ids up to upTo and moves the
// log's start there. It returns how many changes it dropped.
func (c *Changes) Prune(ctx context.Context, upTo int64) (int64, error) {
	c.t.Add(dto.TagChanges)
	res, err := c.x.ExecContext(ctx, c.x.Rebind("DELETE FROM changes WHERE scan_id <= ?"), upTo)
	if err != nil {
		return 0, fmt.Errorf("prune change log: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	if _, err := c.x.ExecContext(ctx, c.x.Rebind("UPDATE change_log_start SET after_scan = ? WHERE after_scan < ?"), upTo, upTo); err != nil {
		return 0, fmt.Errorf("prune change log: %w", err)
	}
	return n, nil
}

// Count returns the number of changes in the log.
func (c *Changes) Count(ctx context.Context) (int64, error) {
	var n int64
	if err := sqlx.GetContext(ctx, c.x, &n, "SELECT COUNT(*) FROM changes"); err != nil {
		return 0, fmt.Errorf("count changes: %w", err)
	}
	return n, nil
}

// LastStartedBefore returns the id of the last scan (of any machine)
// started before t, 0 for none. Scan ids grow with their start.
func (s *Scans) LastStartedBefore(ctx context.Context, t time.Time) (int64, error) {
	var n int64
	err := sqlx.GetContext(ctx, s.x, &n, s.x.Rebind("SELECT COALESCE(MAX(id), 0) FROM scans WHERE started < ?"), t.UnixNano())
	if err != nil {
		return 0, fmt.Errorf("find scan before %s: %w", t.Format(time.RFC3339), err)
	}
	return n, nil
}

// MaxID returns the id of the last scan recorded, 0 for none.
func (s *Scans) MaxID(ctx context.Context) (int64, error) {
	var n int64
	if err := sqlx.GetContext(ctx, s.x, &n, "SELECT COALESCE(MAX(id), 0) FROM scans"); err != nil {
		return 0, fmt.Errorf("read last scan: %w", err)
	}
	return n, nil
}

// Complete returns the complete scans of machine, newest first.
func (s *Scans) Complete(ctx context.Context, machine string) ([]dto.Scan, error) {
	var rows []scanRow
	if err := sqlx.SelectContext(ctx, s.x, &rows, s.x.Rebind("SELECT "+scanColumns+
		" FROM scans WHERE machine = ? AND status = ? ORDER BY id DESC"), machine, string(dto.ScanComplete)); err != nil {
		return nil, fmt.Errorf("list scans of %s: %w", machine, err)
	}
	out := make([]dto.Scan, len(rows))
	for i, r := range rows {
		out[i] = r.dto()
	}
	return out, nil
}

// rawDigest decodes a hex digest; "" is NULL.
func rawDigest(h string) (any, error) {
	if h == "" {
		return nil, nil
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return nil, err
	}
	return b, nil
}
