package repo

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/dto"
)

// Scans stores one row per scan run.
type Scans struct {
	x Executor
	t *Touched
}

// NewScans returns a Scans working on x.
func NewScans(x Executor) *Scans { return &Scans{x: x} }

// Touching makes s record the tags of its writes in t, and returns s.
func (s *Scans) Touching(t *Touched) *Scans {
	s.t = t
	return s
}

type scanRow struct {
	ID          int64          `db:"id"`
	Machine     string         `db:"machine"`
	Roots       string         `db:"roots"`
	Started     int64          `db:"started"`
	Finished    sql.NullInt64  `db:"finished"`
	Status      string         `db:"status"`
	FilesSeen   int64          `db:"files_seen"`
	Added       int64          `db:"added"`
	Modified    int64          `db:"modified"`
	Deleted     int64          `db:"deleted"`
	Unchanged   int64          `db:"unchanged"`
	Skipped     int64          `db:"skipped"`
	Failed      int64          `db:"failed"`
	BytesHashed int64          `db:"bytes_hashed"`
	TxMetrics   sql.NullString `db:"tx_metrics"`
	Host        string         `db:"host"`
	PID         int            `db:"pid"`
}

const scanColumns = "id, machine, roots, started, finished, status, files_seen, added, modified, deleted, unchanged, skipped, failed, bytes_hashed, tx_metrics, host, pid"

func (r scanRow) dto() dto.Scan {
	s := dto.Scan{ID: r.ID, Machine: r.Machine, Started: time.Unix(0, r.Started), Status: dto.ScanStatus(r.Status), Host: r.Host, PID: r.PID,
		ScanCounts: dto.ScanCounts{FilesSeen: r.FilesSeen, Added: r.Added, Modified: r.Modified, Deleted: r.Deleted,
			Unchanged: r.Unchanged, Skipped: r.Skipped, Failed: r.Failed, BytesHashed: r.BytesHashed}}
	s.Roots = decodeRoots(r.Roots)
	if r.Finished.Valid {
		s.Finished = time.Unix(0, r.Finished.Int64)
	}
	if r.TxMetrics.Valid {
		var m dto.TxMetrics
		if json.Unmarshal([]byte(r.TxMetrics.String), &m) == nil {
			s.TxMetrics = &m
		}
	}
	return s
}

// rawRoot is a root that is not valid UTF-8; []byte marshals as base64.
type rawRoot struct {
	Base64 []byte `json:"base64"`
}

// encodeRoots stores roots as a JSON array of strings. encoding/json replaces
// bytes that are not UTF-8 with U+FFFD, and a path need not be UTF-8, so such
// a root is stored as {"base64": "..."} instead: the array stays readable for
// the usual paths and every root round-trips byte for byte.
func encodeRoots(roots []string) (string, error) {
	out := make([]any, len(roots))
	for i, r := range roots {
		if utf8.ValidString(r) {
			out[i] = r
		} else {
			out[i] = rawRoot{Base64: []byte(r)}
		}
	}
	b, err := json.Marshal(out)
	return string(b), err
}

// decodeRoots reads what encodeRoots wrote; it skips what it cannot read.
func decodeRoots(s string) []string {
	var raw []json.RawMessage
	if json.Unmarshal([]byte(s), &raw) != nil || len(raw) == 0 {
		return nil
	}
	roots := make([]string, 0, len(raw))
	for _, m := range raw {
		var r string
		if json.Unmarshal(m, &r) == nil {
			roots = append(roots, r)
			continue
		}
		var b rawRoot
		if json.Unmarshal(m, &b) == nil {
			roots = append(roots, string(b.Base64))
		}
	}
	return roots
}

// Create records a running scan and returns its id.
func (s *Scans) Create(ctx context.Context, sc dto.Scan) (int64, error) {
	roots, err := encodeRoots(sc.Roots)
	if err != nil {
		return 0, err
	}
	s.t.Add(dto.TagScans)
	var id int64
	err = sqlx.GetContext(ctx, s.x, &id, s.x.Rebind(
		"INSERT INTO scans (machine, roots, started, status, host, pid) VALUES (?, ?, ?, ?, ?, ?) RETURNING id"),
		sc.Machine, roots, sc.Started.UnixNano(), string(dto.ScanRunning), sc.Host, sc.PID)
	if err != nil {
		return 0, fmt.Errorf("create scan: %w", err)
	}
	return id, nil
}

// Finish stores the final status, counts and metrics of scan sc.ID.
func (s *Scans) Finish(ctx context.Context, sc dto.Scan) error {
	s.t.Add(dto.TagScans)
	var metrics any
	if sc.TxMetrics != nil {
		b, err := json.Marshal(sc.TxMetrics)
		if err != nil {
			return err
		}
		metrics = string(b)
	}
	_, err := s.x.ExecContext(ctx, s.x.Rebind(`UPDATE scans SET finished = ?, status = ?, files_seen = ?, added = ?,
		modified = ?, deleted = ?, unchanged = ?, skipped = ?, failed = ?, bytes_hashed = ?, tx_metrics = ? WHERE id = ?`),
		sc.Finished.UnixNano(), string(sc.Status), sc.FilesSeen, sc.Added, sc.Modified, sc.Deleted, sc.Unchanged,
		sc.Skipped, sc.Failed, sc.BytesHashed, metrics, sc.ID)
	if err != nil {
		return fmt.Errorf("finish scan: %w", err)
	}
	return nil
}

// Recent returns the last n scans of any machine, newest first.
func (s *Scans) Recent(ctx context.Context, n int) ([]dto.Scan, error) {
	var rows []scanRow
	if err := sqlx.SelectContext(ctx, s.x, &rows, s.x.Rebind("SELECT "+scanColumns+" FROM scans ORDER BY started DESC, id DESC LIMIT ?"), n); err != nil {
		return nil, fmt.Errorf("list scans: %w", err)
	}
	out := make([]dto.Scan, len(rows))
	for i, r := range rows {
		out[i] = r.dto()
	}
	return out, nil
}

// Get returns scan id.
func (s *Scans) Get(ctx context.Context, id int64) (dto.Scan, error) {
	var r scanRow
	if err := sqlx.GetContext(ctx, s.x, &r, s.x.Rebind("SELECT "+scanColumns+" FROM scans WHERE id = ?"), id); err != nil {
		return dto.Scan{}, fmt.Errorf("get scan %d: %w", id, err)
	}
	return r.dto(), nil
}

// Owner is the process that recorded a running scan, and when the scan began.
type Owner struct {
	PID     int
	Started time.Time
}

// RunningOn returns, by scan id, the owners of the scans recorded as running
// by processes of host.
func (s *Scans) RunningOn(ctx context.Context, host string) (map[int64]Owner, error) {
	rows, err := s.x.QueryxContext(ctx, s.x.Rebind("SELECT id, pid, started FROM scans WHERE status = ? AND host = ? AND pid > 0"),
		string(dto.ScanRunning), host)
	if err != nil {
		return nil, fmt.Errorf("list running scans: %w", err)
	}
	defer rows.Close()
	out := map[int64]Owner{}
	for rows.Next() {
		var id, started int64
		var pid int
		if err := rows.Scan(&id, &pid, &started); err != nil {
			return nil, err
		}
		out[id] = Owner{PID: pid, Started: time.Unix(0, started)}
	}
	return out, rows.Err()
}

// MarkInterrupted records scan id, still marked running, as interrupted at
// finished.
func (s *Scans) MarkInterrupted(ctx context.Context, id int64, finished time.Time) error {
	s.t.Add(dto.TagScans)
	_, err := s.x.ExecContext(ctx, s.x.Rebind("UPDATE scans SET status = ?, finished = ? WHERE id = ? AND status = ?"),
		string(dto.ScanInterrupted), finished.UnixNano(), id, string(dto.ScanRunning))
	if err != nil {
		return fmt.Errorf("mark scan %d interrupted: %w", id, err)
	}
	return nil
}

// LastSeen returns how many files the latest complete or partial scan of
// exactly roots on machine saw, and whether there was one.
func (s *Scans) LastSeen(ctx context.Context, machine string, roots []string) (int64, bool, error) {
	enc, err := encodeRoots(roots)
	if err != nil {
		return 0, false, err
	}
	var n int64
	err = s.x.QueryRowxContext(ctx, s.x.Rebind(`SELECT files_seen FROM scans
		WHERE machine = ? AND roots = ? AND status IN (?, ?) ORDER BY started DESC LIMIT 1`),
		machine, enc, string(dto.ScanComplete), string(dto.ScanPartial)).Scan(&n)
	if isNoRows(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read last scan: %w", err)
	}
	return n, true, nil
}

// Machines returns the distinct machines of the scans, in no particular
// order: a machine may have scans and no files.
func (s *Scans) Machines(ctx context.Context) ([]string, error) {
	var out []string
	if err := sqlx.SelectContext(ctx, s.x, &out, "SELECT DISTINCT machine FROM scans"); err != nil {
		return nil, fmt.Errorf("list machines: %w", err)
	}
	return out, nil
}

// Roots returns the distinct roots of the scans of machine ("" for every
// machine), in no particular order.
func (s *Scans) Roots(ctx context.Context, machine string) ([]string, error) {
	q, args := "SELECT DISTINCT roots FROM scans", []any{}
	if machine != "" {
		q, args = q+" WHERE machine = ?", append(args, machine)
	}
	var enc []string
	if err := sqlx.SelectContext(ctx, s.x, &enc, s.x.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("list scan roots: %w", err)
	}
	seen := map[string]bool{}
	var out []string
	for _, e := range enc {
		for _, r := range decodeRoots(e) {
			if !seen[r] {
				seen[r] = true
				out = append(out, r)
			}
		}
	}
	return out, nil
}
