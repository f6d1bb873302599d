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
func (f *Files) writeArrays(ctx context.Context, files []dto.FileWithHash, onConflict string) error {
	files = lastPerKey(files)
	n := len(files)
	machine, op := make([]string, n), make([]string, n)
	path, archive, name := make([][]byte, n), make([][]byte, n), make([][]byte, n)
	md5, sha1, sha256 := make([][]byte, n), make([][]byte, n), make([][]byte, n)
	createdSec, scanID := make([]*int64, n), make([]*int64, n)
	var ints [11][]int64 // size, created_nsec, modified_sec, modified_nsec, scanned, is_archived, mtime_ns, ctime_ns, inode, device, nlink
	for i := range ints {
		ints[i] = make([]int64, n)
	}
	for i, m := range files {
		d5, d1, d256, err := digestArgs(m.Hash)
		if err != nil {
			return fmt.Errorf("write %s: %w", m.Path, err)
		}
		if d256 != nil {
			md5[i], sha1[i], sha256[i] = d5.([]byte), d1.([]byte), d256.([]byte)
		}
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
		}
		ints[0][i], ints[2][i], ints[3][i], ints[4][i] = m.Size, m.Modified.Unix(), int64(m.Modified.Nanosecond()), nanos(m.Scanned)
		ints[5][i], ints[6][i], ints[7][i] = archived, m.MtimeNS, m.CtimeNS
		ints[8][i], ints[9][i], ints[10][i] = int64(m.Inode), int64(m.Device), int64(m.Nlink)
	}
	_, err := f.x.ExecContext(ctx, f.x.Rebind(`INSERT INTO files (machine, path, archive_path, name, size,
			created_sec, created_nsec, modified_sec, modified_nsec, scanned, operation, is_archived,
			md5, sha1, sha256, scan_id, mtime_ns, ctime_ns, inode, device, nlink)
		SELECT * FROM unnest(CAST(? AS text[]), CAST(? AS bytea[]), CAST(? AS bytea[]), CAST(? AS bytea[]), CAST(? AS bigint[]),
			CAST(? AS bigint[]), CAST(? AS bigint[]), CAST(? AS bigint[]), CAST(? AS bigint[]), CAST(? AS bigint[]), CAST(? AS text[]),
			CAST(? AS bigint[]), CAST(? AS bytea[]), CAST(? AS bytea[]), CAST(? AS bytea[]), CAST(? AS bigint[]), CAST(? AS bigint[]),
			CAST(? AS bigint[]), CAST(? AS bigint[]), CAST(? AS bigint[]), CAST(? AS bigint[]))`+onConflict),
		machine, path, archive, name, ints[0], createdSec, ints[1], ints[2], ints[3], ints[4], op, ints[5],
		md5, sha1, sha256, scanID, ints[6], ints[7], ints[8], ints[9], ints[10])
	if err != nil {
		return fmt.Errorf("write files: %w", err)
	}
	return nil
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
