package repo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/dto"
)

// Files stores one row per file per machine.
type Files struct{ x Executor }

// NewFiles returns a Files working on x.
func NewFiles(x Executor) *Files { return &Files{x: x} }

type fileRow struct {
	ID          int64         `db:"id"`
	Machine     string        `db:"machine"`
	Path        string        `db:"path"`
	ArchivePath string        `db:"archive_path"`
	Name        string        `db:"name"`
	Size        int64         `db:"size"`
	Created     sql.NullInt64 `db:"created"`
	Modified    int64         `db:"modified"`
	Scanned     int64         `db:"scanned"`
	Operation   string        `db:"operation"`
	IsArchived  bool          `db:"is_archived"`
	HashID      sql.NullInt64 `db:"hash_id"`
	ScanID      sql.NullInt64 `db:"scan_id"`
	MtimeNS     int64         `db:"mtime_ns"`
	CtimeNS     int64         `db:"ctime_ns"`
	Inode       int64         `db:"inode"`
	Device      int64         `db:"device"`
	Nlink       int64         `db:"nlink"`
}

const fileColumns = "id, machine, path, archive_path, name, size, created, modified, scanned, operation, is_archived, hash_id, scan_id, mtime_ns, ctime_ns, inode, device, nlink"

func (r fileRow) dto() dto.FileMeta {
	m := dto.FileMeta{
		ID: r.ID, Machine: r.Machine, Path: r.Path, ArchivePath: r.ArchivePath, Name: r.Name,
		Size: r.Size, Modified: fromNanos(r.Modified), Scanned: fromNanos(r.Scanned),
		Operation: dto.Operation(r.Operation), IsArchived: r.IsArchived,
		HashID: r.HashID.Int64, ScanID: r.ScanID.Int64,
		Validators: dto.Validators{Size: r.Size, MtimeNS: r.MtimeNS, CtimeNS: r.CtimeNS,
			Inode: uint64(r.Inode), Device: uint64(r.Device), Nlink: uint64(r.Nlink)},
	}
	if r.Created.Valid {
		m.Created = time.Unix(0, r.Created.Int64)
	}
	return m
}

// UpsertMany inserts or updates files by (machine, path, archive_path), one
// statement per ChunkSize rows. A file's HashID of 0 is stored as NULL.
func (f *Files) UpsertMany(ctx context.Context, files []dto.FileMeta) error {
	const cols = 17
	for start := 0; start < len(files); start += ChunkSize {
		chunk := files[start:min(start+ChunkSize, len(files))]
		args := make([]any, 0, len(chunk)*cols)
		for _, m := range chunk {
			var hashID, scanID any
			if m.HashID != 0 {
				hashID = m.HashID
			}
			if m.ScanID != 0 {
				scanID = m.ScanID
			}
			args = append(args, m.Machine, m.Path, m.ArchivePath, m.Name, m.Size,
				nullNanos(m.Created), nanos(m.Modified), nanos(m.Scanned), string(m.Operation),
				m.IsArchived, hashID, scanID, m.MtimeNS, m.CtimeNS, int64(m.Inode), int64(m.Device), int64(m.Nlink))
		}
		q := `INSERT INTO files (machine, path, archive_path, name, size, created, modified, scanned,
			operation, is_archived, hash_id, scan_id, mtime_ns, ctime_ns, inode, device, nlink)
			VALUES ` + placeholders(len(chunk), cols) + `
			ON CONFLICT (machine, path, archive_path) DO UPDATE SET
			name = excluded.name, size = excluded.size, created = excluded.created,
			modified = excluded.modified, scanned = excluded.scanned, operation = excluded.operation,
			is_archived = excluded.is_archived, hash_id = excluded.hash_id, scan_id = excluded.scan_id,
			mtime_ns = excluded.mtime_ns, ctime_ns = excluded.ctime_ns, inode = excluded.inode,
			device = excluded.device, nlink = excluded.nlink`
		if _, err := f.x.ExecContext(ctx, f.x.Rebind(q), args...); err != nil {
			return fmt.Errorf("upsert files: %w", err)
		}
	}
	return nil
}

// GetByPaths returns the plain files (not archive entries) of machine at
// paths, keyed by path. Paths with no row are absent from the map.
func (f *Files) GetByPaths(ctx context.Context, machine string, paths []string) (map[string]dto.FileMeta, error) {
	out := make(map[string]dto.FileMeta, len(paths))
	for start := 0; start < len(paths); start += ChunkSize {
		chunk := paths[start:min(start+ChunkSize, len(paths))]
		q, args, err := sqlx.In("SELECT "+fileColumns+" FROM files WHERE machine = ? AND archive_path = '' AND path IN (?)", machine, chunk)
		if err != nil {
			return nil, err
		}
		var rows []fileRow
		if err := sqlx.SelectContext(ctx, f.x, &rows, f.x.Rebind(q), args...); err != nil {
			return nil, fmt.Errorf("get files by path: %w", err)
		}
		for _, r := range rows {
			out[r.Path] = r.dto()
		}
	}
	return out, nil
}

// EachUnder calls fn for every row of machine whose path is root or lies below
// it, archive entries included, in no particular order. It streams: rows are
// never all in memory at once.
func (f *Files) EachUnder(ctx context.Context, machine, root string, fn func(dto.FileMeta) error) error {
	lo, hi := PathRange(root)
	rows, err := f.x.QueryxContext(ctx, f.x.Rebind("SELECT "+fileColumns+
		" FROM files WHERE machine = ? AND (path = ? OR (path >= ? AND path < ?))"), machine, root, lo, hi)
	if err != nil {
		return fmt.Errorf("list files under %s: %w", root, err)
	}
	defer rows.Close()
	for rows.Next() {
		var r fileRow
		if err := rows.StructScan(&r); err != nil {
			return err
		}
		if err := fn(r.dto()); err != nil {
			return err
		}
	}
	return rows.Err()
}

// EachValidatorsUnder is EachUnder for rescans: it fills only ID, Path,
// ArchivePath, HashID, Operation and Validators, and scans without
// reflection, because it reads every row below the roots on every scan.
func (f *Files) EachValidatorsUnder(ctx context.Context, machine, root string, fn func(dto.FileMeta) error) error {
	lo, hi := PathRange(root)
	rows, err := f.x.QueryContext(ctx, f.x.Rebind(`SELECT id, path, archive_path, COALESCE(hash_id, 0), operation,
		size, mtime_ns, ctime_ns, inode, device FROM files
		WHERE machine = ? AND (path = ? OR (path >= ? AND path < ?))`), machine, root, lo, hi)
	if err != nil {
		return fmt.Errorf("list files under %s: %w", root, err)
	}
	defer rows.Close()
	var m dto.FileMeta
	var op string
	var inode, device int64
	for rows.Next() {
		if err := rows.Scan(&m.ID, &m.Path, &m.ArchivePath, &m.HashID, &op, &m.Size,
			&m.MtimeNS, &m.CtimeNS, &inode, &device); err != nil {
			return err
		}
		m.Operation, m.Inode, m.Device = dto.Operation(op), uint64(inode), uint64(device)
		m.Validators.Size = m.Size
		if err := fn(m); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Touch records that the files with ids were seen unchanged by scan scanID.
func (f *Files) Touch(ctx context.Context, ids []int64, scanID int64, scanned time.Time) error {
	return f.updateIDs(ctx, "UPDATE files SET scanned = ?, scan_id = ? WHERE id IN (?)", ids, nanos(scanned), scanID)
}

// MarkDeleted sets operation DEL on the files with ids. The rows stay, so the
// history is kept.
func (f *Files) MarkDeleted(ctx context.Context, ids []int64, scanID int64, scanned time.Time) error {
	return f.updateIDs(ctx, "UPDATE files SET operation = 'DEL', scanned = ?, scan_id = ? WHERE id IN (?)", ids, nanos(scanned), scanID)
}

func (f *Files) updateIDs(ctx context.Context, stmt string, ids []int64, scanned, scanID int64) error {
	for start := 0; start < len(ids); start += ChunkSize {
		chunk := ids[start:min(start+ChunkSize, len(ids))]
		q, args, err := sqlx.In(stmt, scanned, scanID, chunk)
		if err != nil {
			return err
		}
		if _, err := f.x.ExecContext(ctx, f.x.Rebind(q), args...); err != nil {
			return fmt.Errorf("update files: %w", err)
		}
	}
	return nil
}

// Counts are catalog-wide totals.
type Counts struct {
	Files    int64 `db:"files"`
	Deleted  int64 `db:"deleted"`
	Entries  int64 `db:"entries"` // present archive entries, counted in Files too
	Machines int64 `db:"machines"`
	Bytes    int64 `db:"bytes"`
}

// Counts returns totals over all machines. Files and Bytes count present
// (non-DEL) rows.
func (f *Files) Counts(ctx context.Context) (Counts, error) {
	var c Counts
	err := sqlx.GetContext(ctx, f.x, &c, `SELECT
		COALESCE(SUM(CASE WHEN operation <> 'DEL' THEN 1 ELSE 0 END), 0) AS files,
		COALESCE(SUM(CASE WHEN operation = 'DEL' THEN 1 ELSE 0 END), 0) AS deleted,
		COALESCE(SUM(CASE WHEN operation <> 'DEL' AND is_archived = 1 THEN 1 ELSE 0 END), 0) AS entries,
		COUNT(DISTINCT machine) AS machines,
		COALESCE(SUM(CASE WHEN operation <> 'DEL' THEN size ELSE 0 END), 0) AS bytes
		FROM files`)
	if err != nil {
		return c, fmt.Errorf("count files: %w", err)
	}
	return c, nil
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
