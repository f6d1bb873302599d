package repo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
)

// Files stores one row per file per machine.
type Files struct {
	x   Executor
	t   *Touched
	raw RawOpener
}

// RawOpener opens a raw connection to the catalog (db.DB.OpenRaw), which
// reads long listings at a fifth of the per-row cost of database/sql.
type RawOpener interface {
	OpenRaw(ctx context.Context) (*db.RawConn, error)
}

// ReadingRaw makes f read its long listings (Dupes) through raw
// connections that o opens, where the catalog has them, and returns f. Only
// a read-only unit of work may: a raw connection does not see what the
// unit's transaction wrote.
func (f *Files) ReadingRaw(o RawOpener) *Files {
	f.raw = o
	return f
}

// NewFiles returns a Files working on x.
func NewFiles(x Executor) *Files { return &Files{x: x} }

// Touching makes f record the tags of its writes in t, and returns f.
func (f *Files) Touching(t *Touched) *Files {
	f.t = t
	return f
}

type fileRow struct {
	ID           int64         `db:"id"`
	Machine      string        `db:"machine"`
	Path         string        `db:"path"`
	ArchivePath  string        `db:"archive_path"`
	Name         string        `db:"name"`
	Size         int64         `db:"size"`
	CreatedSec   sql.NullInt64 `db:"created_sec"`
	CreatedNsec  int64         `db:"created_nsec"`
	ModifiedSec  int64         `db:"modified_sec"`
	ModifiedNsec int64         `db:"modified_nsec"`
	Scanned      int64         `db:"scanned"`
	Operation    string        `db:"operation"`
	IsArchived   bool          `db:"is_archived"`
	ScanID       sql.NullInt64 `db:"scan_id"`
	MtimeNS      int64         `db:"mtime_ns"`
	CtimeNS      int64         `db:"ctime_ns"`
	Inode        int64         `db:"inode"`
	Device       int64         `db:"device"`
	Nlink        int64         `db:"nlink"`
}

const fileColumns = "id, machine, path, archive_path, name, size, created_sec, created_nsec, modified_sec, modified_nsec, scanned, operation, is_archived, scan_id, mtime_ns, ctime_ns, inode, device, nlink"

func (r fileRow) dto() dto.FileMeta {
	m := dto.FileMeta{
		ID: r.ID, Machine: r.Machine, Path: r.Path, ArchivePath: r.ArchivePath, Name: r.Name,
		Size: r.Size, Modified: time.Unix(r.ModifiedSec, r.ModifiedNsec), Scanned: fromNanos(r.Scanned),
		Operation: dto.Operation(r.Operation), IsArchived: r.IsArchived, ScanID: r.ScanID.Int64,
		Validators: dto.Validators{Size: r.Size, MtimeNS: r.MtimeNS, CtimeNS: r.CtimeNS,
			Inode: uint64(r.Inode), Device: uint64(r.Device), Nlink: uint64(r.Nlink)},
	}
	if r.CreatedSec.Valid {
		m.Created = time.Unix(r.CreatedSec.Int64, r.CreatedNsec)
	}
	return m
}

// UpsertMany inserts or updates files by (machine, path, archive_path), with
// their content digests. A file with no SHA256 is stored unhashed (NULL
// digests). One prepared statement runs once per file: cheaper, per row, than
// multi-row statements, which must also keep a statement journal.
func (f *Files) UpsertMany(ctx context.Context, files []dto.FileWithHash) error {
	_, err := f.writeMany(ctx, files, digestArgs, upsertFiles)
	return err
}

// UpsertImported is UpsertMany for rows brought from elsewhere: read from a
// checksum file, which may give only some of the digests (the others are
// stored NULL), or merged from another catalog, which may hold such rows.
func (f *Files) UpsertImported(ctx context.Context, files []dto.FileWithHash) error {
	_, err := f.writeMany(ctx, files, someDigestArgs, upsertFiles)
	return err
}

const upsertFiles = `
		ON CONFLICT (machine, path, archive_path) DO UPDATE SET
		name = excluded.name, size = excluded.size,
		created_sec = excluded.created_sec, created_nsec = excluded.created_nsec,
		modified_sec = excluded.modified_sec, modified_nsec = excluded.modified_nsec,
		scanned = excluded.scanned, operation = excluded.operation,
		is_archived = excluded.is_archived, md5 = excluded.md5, sha1 = excluded.sha1,
		sha256 = excluded.sha256, scan_id = excluded.scan_id,
		mtime_ns = excluded.mtime_ns, ctime_ns = excluded.ctime_ns, inode = excluded.inode,
		device = excluded.device, nlink = excluded.nlink, exec = excluded.exec`

// InsertMany inserts files that have no row yet, as UpsertMany does; one
// that has fails the statement on the unique key. A plain insert needs no
// statement journal, which an upsert keeps. It returns the new rows' ids,
// in the order of files.
func (f *Files) InsertMany(ctx context.Context, files []dto.FileWithHash) ([]int64, error) {
	return f.writeMany(ctx, files, digestArgs, "")
}

// InsertAdded inserts files that have no row yet, as InsertMany does, and
// logs each as added by scan scanID, as Changes.RecordAdded does. On
// PostgreSQL that is one statement: the rows inserted feed the change log
// on the server, and no id comes back (a statement and a round trip fewer
// per chunk, and no 200 rows of paths read back).
func (f *Files) InsertAdded(ctx context.Context, files []dto.FileWithHash, scanID int64) error {
	if len(files) == 0 {
		return nil
	}
	if db.DialectOf(f.x).Shared {
		return f.insertArraysAdded(ctx, files, scanID)
	}
	ids, err := f.InsertMany(ctx, files)
	if err != nil {
		return err
	}
	return NewChanges(f.x).Touching(f.t).RecordAdded(ctx, ids, scanID)
}

// writeMany writes files and returns the ids of the rows it wrote (those
// of an upsert that updated a row are not reliable).
func (f *Files) writeMany(ctx context.Context, files []dto.FileWithHash,
	digestArgs func(dto.FileHash) (any, any, any, error), onConflict string) ([]int64, error) {
	if len(files) == 0 {
		return nil, nil
	}
	f.t.touchFiles(files)
	if db.DialectOf(f.x).Shared {
		return f.writeArrays(ctx, files, digestArgs, onConflict)
	}
	st, err := f.x.PreparexContext(ctx, f.x.Rebind(`INSERT INTO files (machine, path, archive_path, name, size,
			created_sec, created_nsec, modified_sec, modified_nsec, scanned, operation, is_archived,
			md5, sha1, sha256, scan_id, mtime_ns, ctime_ns, inode, device, nlink, exec)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`+onConflict))
	if err != nil {
		return nil, fmt.Errorf("write files: %w", err)
	}
	defer st.Close()
	ids := make([]int64, 0, len(files))
	for _, m := range files {
		var scanID any
		if m.ScanID != 0 {
			scanID = m.ScanID
		}
		md5, sha1, sha256, err := digestArgs(m.Hash)
		if err != nil {
			return nil, fmt.Errorf("write %s: %w", m.Path, err)
		}
		var exec any // NULL for an archive entry: not recorded
		if !m.IsArchived {
			exec = m.Exec
		}
		var createdSec any // NULL where the file system records no birth time
		var createdNsec int64
		if !m.Created.IsZero() {
			createdSec, createdNsec = m.Created.Unix(), int64(m.Created.Nanosecond())
		}
		res, err := st.ExecContext(ctx, m.Machine, m.Path, m.ArchivePath, m.Name, m.Size,
			createdSec, createdNsec, m.Modified.Unix(), int64(m.Modified.Nanosecond()), nanos(m.Scanned), string(m.Operation),
			m.IsArchived, md5, sha1, sha256, scanID, m.MtimeNS, m.CtimeNS, int64(m.Inode), int64(m.Device), int64(m.Nlink), exec)
		if err != nil {
			return nil, fmt.Errorf("write files: %w", err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return nil, fmt.Errorf("write files: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, nil
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
	under, args := underCond("path", root)
	rows, err := f.x.QueryxContext(ctx, f.x.Rebind("SELECT "+fileColumns+
		" FROM files WHERE machine = ? AND "+under), append([]any{machine}, args...)...)
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
// ArchivePath, Operation, Validators and the content's SHA256, and scans
// without reflection, because it reads every row below the roots on every
// scan. The SHA256 is raw (32 bytes, or empty when not hashed) and valid only
// during fn.
//
// With whole, the rows are found by one pass over the table instead of the
// path index: when root holds most of the catalog, that reads each page once,
// where the index would look every row up on its own.
func (f *Files) EachValidatorsUnder(ctx context.Context, machine, root string, whole bool, fn func(m dto.FileMeta, sha256 []byte) error) error {
	machineCol, pathCol := "machine", "path"
	if whole {
		// An expression over a column is no index key: engines scan.
		machineCol, pathCol = "machine || ''", "path || ''"
	}
	under, args := underCond(pathCol, root)
	_, err := f.eachValidators(ctx, machineCol+" = ? AND "+under, append([]any{machine}, args...), func(m dto.FileMeta, sum []byte) (bool, error) {
		return true, fn(m, sum)
	})
	if err != nil {
		return fmt.Errorf("list files under %s: %w", root, err)
	}
	return nil
}

// EachValidatorsIn is EachValidatorsUnder for the rows directly in one
// directory (archive entries included), in path order: those of the files
// whose path is dir/NAME. The rows below its subdirectories are skipped by
// seeking past each subdirectory on the (machine, path) key, so reading a
// directory costs its own rows and one seek per subdirectory the catalog
// has, however deep the tree below it is. A rescan reads the catalog so,
// one directory at a time, instead of holding every row under its roots.
func (f *Files) EachValidatorsIn(ctx context.Context, machine, dir string, fn func(m dto.FileMeta, sha256 []byte) error) error {
	lo, hi := PathRange(dir)
	for from := lo; from != ""; {
		seek := from
		from = ""
		_, err := f.eachValidators(ctx, "machine = ? AND path >= ? AND path < ? ORDER BY path, archive_path",
			[]any{machine, seek, hi}, func(m dto.FileMeta, sum []byte) (bool, error) {
				if i := strings.IndexByte(m.Path[len(lo):], '/'); i >= 0 {
					// The first row below subdirectory NAME: go on after
					// "dir/NAME0", past every "dir/NAME/…".
					from = m.Path[:len(lo)+i] + "0"
					return false, nil
				}
				return true, fn(m, sum)
			})
		if err != nil {
			return fmt.Errorf("list files in %s: %w", dir, err)
		}
	}
	return nil
}

// EachValidatorsAt is EachValidatorsUnder for the rows of one path: the
// file's and, for an archive, its entries'.
func (f *Files) EachValidatorsAt(ctx context.Context, machine, path string, fn func(m dto.FileMeta, sha256 []byte) error) error {
	_, err := f.eachValidators(ctx, "machine = ? AND path = ?", []any{machine, path}, func(m dto.FileMeta, sum []byte) (bool, error) {
		return true, fn(m, sum)
	})
	if err != nil {
		return fmt.Errorf("list files at %s: %w", path, err)
	}
	return nil
}

// eachValidators reads the validators of the rows where cond holds, and
// calls fn for each until it returns false. It scans without reflection,
// because a rescan reads every row below its roots.
func (f *Files) eachValidators(ctx context.Context, cond string, args []any, fn func(m dto.FileMeta, sha256 []byte) (bool, error)) (bool, error) {
	rows, err := f.x.QueryContext(ctx, f.x.Rebind(`SELECT id, path, archive_path, sha256, operation,
		size, mtime_ns, ctime_ns, inode, device FROM files WHERE `+cond), args...)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	var m dto.FileMeta
	var op string
	var inode, device int64
	var sum sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&m.ID, &m.Path, &m.ArchivePath, &sum, &op, &m.Size,
			&m.MtimeNS, &m.CtimeNS, &inode, &device); err != nil {
			return false, err
		}
		m.Operation, m.Inode, m.Device = dto.Operation(op), uint64(inode), uint64(device)
		m.Validators.Size = m.Size
		more, err := fn(m, sum)
		if err != nil || !more {
			return false, err
		}
	}
	return true, rows.Err()
}

// CountUnder returns how many rows of machine (DEL ones and archive entries
// included) have a path at or below root, from the (machine, path) key
// alone.
func (f *Files) CountUnder(ctx context.Context, machine, root string) (int64, error) {
	under, args := underCond("path", root)
	var n int64
	err := f.x.QueryRowxContext(ctx, f.x.Rebind("SELECT COUNT(*) FROM files WHERE machine = ? AND "+under),
		append([]any{machine}, args...)...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count files under %s: %w", root, err)
	}
	return n, nil
}

// PresentRow is a present row as EachPresentUnder reads it: its id, path,
// and the file's device and inode when it was scanned.
type PresentRow struct {
	ID            int64
	Path          string
	Device, Inode uint64
}

// EachPresentUnder calls fn with every row of machine, archive entries
// included, at or below root and not DEL, in path order. It streams.
func (f *Files) EachPresentUnder(ctx context.Context, machine, root string, fn func(PresentRow) error) error {
	under, args := underCond("path", root)
	rows, err := f.x.QueryContext(ctx, f.x.Rebind("SELECT id, path, inode, device FROM files WHERE machine = ? AND "+under+
		" AND operation <> 'DEL' ORDER BY path"), append([]any{machine}, args...)...)
	if err != nil {
		return fmt.Errorf("list files under %s: %w", root, err)
	}
	defer rows.Close()
	var r PresentRow
	var inode, device int64
	for rows.Next() {
		if err := rows.Scan(&r.ID, &r.Path, &inode, &device); err != nil {
			return err
		}
		r.Inode, r.Device = uint64(inode), uint64(device)
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// MarkDeleted sets operation DEL on the files of machine with ids. The rows
// stay, so the history is kept.
func (f *Files) MarkDeleted(ctx context.Context, machine string, ids []int64, scanID int64, scanned time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	f.t.Add(dto.TagFiles, dto.MachineTag(machine))
	for start := 0; start < len(ids); start += ChunkSize {
		chunk := ids[start:min(start+ChunkSize, len(ids))]
		q, args, err := sqlx.In("UPDATE files SET operation = 'DEL', scanned = ?, scan_id = ? WHERE machine = ? AND id IN (?)",
			nanos(scanned), scanID, machine, chunk)
		if err != nil {
			return err
		}
		if _, err := f.x.ExecContext(ctx, f.x.Rebind(q), args...); err != nil {
			return fmt.Errorf("update files: %w", err)
		}
	}
	return nil
}

// MaxFileID returns the largest row id of files, 0 for none: a bound on the
// number of rows, read from the end of one B-tree.
func (f *Files) MaxFileID(ctx context.Context) (int64, error) {
	var n int64
	err := f.x.QueryRowxContext(ctx, "SELECT COALESCE(MAX(id), 0) FROM files").Scan(&n)
	return n, err
}

// Counts returns the catalog's row counts (see db.CountRows).
func (f *Files) Counts(ctx context.Context) (dto.Counts, error) {
	return db.CountRows(ctx, f.x)
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
