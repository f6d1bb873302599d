package repo

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/dto"
)

// ForgetMachine deletes up to n rows of machine and says what it deleted; 0
// rows means none is left.
func (f *Files) ForgetMachine(ctx context.Context, machine string, n int) (Forgettable, error) {
	f.t.Add(dto.TagFiles, dto.MachineTag(machine))
	return f.forget(ctx, "machine = ?", []any{machine}, n)
}

// ScannedAt returns the scanned time (unix ns) of the row of machine at
// path and archivePath, and whether there is one.
func (f *Files) ScannedAt(ctx context.Context, machine, path, archivePath string) (int64, bool, error) {
	var n int64
	err := f.x.QueryRowxContext(ctx, f.x.Rebind("SELECT scanned FROM files WHERE machine = ? AND path = ? AND archive_path = ?"),
		machine, path, archivePath).Scan(&n)
	if isNoRows(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read file %s: %w", path, err)
	}
	return n, true, nil
}

// OfMachine returns every scan of machine, oldest first.
func (s *Scans) OfMachine(ctx context.Context, machine string) ([]dto.Scan, error) {
	var rows []scanRow
	if err := sqlx.SelectContext(ctx, s.x, &rows, s.x.Rebind("SELECT "+scanColumns+" FROM scans WHERE machine = ? ORDER BY started, id"), machine); err != nil {
		return nil, fmt.Errorf("list scans of %s: %w", machine, err)
	}
	out := make([]dto.Scan, len(rows))
	for i, r := range rows {
		out[i] = r.dto()
	}
	return out, nil
}

// IDStarted returns the id of the scan of machine that started at started
// (unix ns), and whether there is one: a scan merged from another catalog
// is known by its machine and start.
func (s *Scans) IDStarted(ctx context.Context, machine string, started int64) (int64, bool, error) {
	var id int64
	err := s.x.QueryRowxContext(ctx, s.x.Rebind("SELECT id FROM scans WHERE machine = ? AND started = ? ORDER BY id LIMIT 1"),
		machine, started).Scan(&id)
	if isNoRows(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("find scan: %w", err)
	}
	return id, true, nil
}

// Insert records a scan another catalog ran, with all it recorded, under a
// new id, which it returns. Its directory digests count as done: merged
// rows bring none.
func (s *Scans) Insert(ctx context.Context, sc dto.Scan) (int64, error) {
	roots, err := encodeRoots(sc.Roots)
	if err != nil {
		return 0, err
	}
	var metrics, finished any
	if sc.TxMetrics != nil {
		b, err := json.Marshal(sc.TxMetrics)
		if err != nil {
			return 0, err
		}
		metrics = string(b)
	}
	if !sc.Finished.IsZero() {
		finished = sc.Finished.UnixNano()
	}
	s.t.Add(dto.TagScans, dto.MachineTag(sc.Machine))
	var id int64
	err = sqlx.GetContext(ctx, s.x, &id, s.x.Rebind(`INSERT INTO scans (machine, roots, started, finished, status,
		files_seen, added, modified, deleted, unchanged, skipped, failed, bytes_hashed, tx_metrics, host, pid, dirs_done)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) RETURNING id`),
		sc.Machine, roots, sc.Started.UnixNano(), finished, string(sc.Status), sc.FilesSeen, sc.Added, sc.Modified,
		sc.Deleted, sc.Unchanged, sc.Skipped, sc.Failed, sc.BytesHashed, metrics, sc.Host, sc.PID)
	if err != nil {
		return 0, fmt.Errorf("insert scan: %w", err)
	}
	return id, nil
}

// ForgetMachine deletes the scans of machine, with their change log and the
// machine's directory digests, which describe its files.
func (s *Scans) ForgetMachine(ctx context.Context, machine string) error {
	s.t.Add(dto.TagScans, dto.TagDirs, dto.TagChanges, dto.MachineTag(machine))
	for _, q := range []string{
		"DELETE FROM changes WHERE machine = ?",
		"DELETE FROM dirs WHERE machine = ?",
		"DELETE FROM scans WHERE machine = ?",
	} {
		if _, err := s.x.ExecContext(ctx, s.x.Rebind(q), machine); err != nil {
			return fmt.Errorf("forget scans of %s: %w", machine, err)
		}
	}
	return nil
}
