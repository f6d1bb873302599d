package repo

import (
	"context"
	"fmt"

	"github.com/indexer/indexer/internal/dto"
)

// writeArrays is writeMany in one statement, the way PostgreSQL takes a
// chunk fastest: every column's values go as one array parameter, and
// unnest turns the arrays back into rows. One round trip per chunk instead
// of one per file (BenchmarkScan/first ran 1.5 times SQLite's time with a
// statement per file). A chunk holding one file's key twice would make the
// upsert fail ("cannot affect row a second time"): only the last of them is
// written, as a statement per file would leave it.
//
// It returns the ids of the rows written, in the order of files (those of an
// upsert that updated a row, and of a key repeated in the chunk, are not
// reliable, as writeMany says).
func (f *Files) writeArrays(ctx context.Context, files []dto.FileWithHash,
	digestArgs func(dto.FileHash) (any, any, any, error), onConflict string) ([]int64, error) {
	all := files
	files = lastPerKey(files)
	args, err := arrayArgs(files, digestArgs)
	if err != nil {
		return nil, err
	}
	rows, err := f.x.QueryContext(ctx, f.x.Rebind(insertArrays+onConflict+` RETURNING id, machine, path, archive_path`), args...)
	if err != nil {
		return nil, fmt.Errorf("write files: %w", err)
	}
	defer rows.Close()
	type key struct{ machine, path, archive string }
	byKey := make(map[key]int64, len(files))
	for rows.Next() {
		var id int64
		var machine string
		var path, archive []byte
		if err := rows.Scan(&id, &machine, &path, &archive); err != nil {
			return nil, fmt.Errorf("write files: %w", err)
		}
		byKey[key{machine, string(path), string(archive)}] = id
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("write files: %w", err)
	}
	ids := make([]int64, len(all))
	for i, m := range all {
		ids[i] = byKey[key{m.Machine, m.Path, m.ArchivePath}]
	}
	return ids, nil
}

// insertArraysAdded is InsertAdded on PostgreSQL: insertArrays, whose rows
// a second INSERT of the same statement logs as added, in id order, as
// RecordAdded does.
func (f *Files) insertArraysAdded(ctx context.Context, files []dto.FileWithHash, scanID int64) error {
	f.t.touchFiles(files)
	f.t.Add(dto.TagChanges)
	args, err := arrayArgs(lastPerKey(files), digestArgs)
	if err != nil {
		return err
	}
	_, err = f.x.ExecContext(ctx, f.x.Rebind(`WITH added AS (`+insertArrays+` RETURNING id, machine, path, archive_path, size, sha256)
		INSERT INTO changes (scan_id, machine, path, archive_path, op, new_size, new_sha256)
		SELECT ?, machine, path, archive_path, 'ADD', size, sha256 FROM added ORDER BY id`), append(args, scanID)...)
	if err != nil {
		return fmt.Errorf("write files: %w", err)
	}
	return nil
}

// insertArrays is the statement of writeArrays, without its ON CONFLICT
// and RETURNING clauses: the columns of files as the arrays of arrayArgs.
const insertArrays = `INSERT INTO files (machine, path, archive_path, name, size,
			created_sec, created_nsec, modified_sec, modified_nsec, scanned, operation, is_archived,
			md5, sha1, sha256, scan_id, mtime_ns, ctime_ns, inode, device, nlink, exec)
		SELECT * FROM unnest(CAST(? AS text[]), CAST(? AS bytea[]), CAST(? AS bytea[]), CAST(? AS bytea[]), CAST(? AS bigint[]),
			CAST(? AS bigint[]), CAST(? AS bigint[]), CAST(? AS bigint[]), CAST(? AS bigint[]), CAST(? AS bigint[]), CAST(? AS text[]),
			CAST(? AS bigint[]), CAST(? AS bytea[]), CAST(? AS bytea[]), CAST(? AS bytea[]), CAST(? AS bigint[]), CAST(? AS bigint[]),
			CAST(? AS bigint[]), CAST(? AS bigint[]), CAST(? AS bigint[]), CAST(? AS bigint[]), CAST(? AS bigint[]))`

// arrayArgs returns the arguments of insertArrays for files, one array per
// column.
func arrayArgs(files []dto.FileWithHash, digestArgs func(dto.FileHash) (any, any, any, error)) ([]any, error) {
	n := len(files)
	machine, op := make([]string, n), make([]string, n)
	path, archive, name := make([][]byte, n), make([][]byte, n), make([][]byte, n)
	md5, sha1, sha256 := make([][]byte, n), make([][]byte, n), make([][]byte, n)
	createdSec, scanID, exec := make([]*int64, n), make([]*int64, n), make([]*int64, n)
	var ints [11][]int64 // size, created_nsec, modified_sec, modified_nsec, scanned, is_archived, mtime_ns, ctime_ns, inode, device, nlink
	for i := range ints {
		ints[i] = make([]int64, n)
	}
	for i, m := range files {
		d5, d1, d256, err := digestArgs(m.Hash)
		if err != nil {
			return nil, fmt.Errorf("write %s: %w", m.Path, err)
		}
		md5[i], sha1[i], sha256[i] = bytesOrNil(d5), bytesOrNil(d1), bytesOrNil(d256)
		machine[i], op[i] = m.Machine, string(m.Operation)
		path[i], archive[i], name[i] = []byte(m.Path), []byte(m.ArchivePath), []byte(m.Name)
		if !m.Created.IsZero() {
			s := m.Created.Unix()
			createdSec[i] = &s
			ints[1][i] = int64(m.Created.Nanosecond())
		}
		if m.ScanID != 0 {
			id := m.ScanID
			scanID[i] = &id
		}
		var archived int64
		if m.IsArchived {
			archived = 1
		} else { // NULL for an archive entry: not recorded
			var x int64
			if m.Exec {
				x = 1
			}
			exec[i] = &x
		}
		ints[0][i], ints[2][i], ints[3][i], ints[4][i] = m.Size, m.Modified.Unix(), int64(m.Modified.Nanosecond()), nanos(m.Scanned)
		ints[5][i], ints[6][i], ints[7][i] = archived, m.MtimeNS, m.CtimeNS
		ints[8][i], ints[9][i], ints[10][i] = int64(m.Inode), int64(m.Device), int64(m.Nlink)
	}
	return []any{
		machine, path, archive, name, ints[0], createdSec, ints[1], ints[2], ints[3], ints[4], op, ints[5],
		md5, sha1, sha256, scanID, ints[6], ints[7], ints[8], ints[9], ints[10], exec,
	}, nil
}

// bytesOrNil is a digest argument as bytea: nil stays NULL.
func bytesOrNil(v any) []byte {
	b, _ := v.([]byte)
	return b
}

// lastPerKey returns files with only the last of each (machine, path,
// archive path), in their order.
func lastPerKey(files []dto.FileWithHash) []dto.FileWithHash {
	type key struct{ machine, path, archive string }
	last := make(map[key]int, len(files))
	for i, m := range files {
		last[key{m.Machine, m.Path, m.ArchivePath}] = i
	}
	if len(last) == len(files) {
		return files
	}
	out := make([]dto.FileWithHash, 0, len(last))
	for i, m := range files {
		if last[key{m.Machine, m.Path, m.ArchivePath}] == i {
			out = append(out, m)
		}
	}
	return out
}
