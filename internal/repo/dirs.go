package repo

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
)

// Dirs stores the directories of each machine and their digests.
type Dirs struct {
	x Executor
	t *Touched
}

// NewDirs returns a Dirs working on x.
func NewDirs(x Executor) *Dirs { return &Dirs{x: x} }

// Touching makes r record the tags of its writes in t, and returns r.
func (r *Dirs) Touching(t *Touched) *Dirs {
	r.t = t
	return r
}

// fileDir is a plain file's directory as the expression of the index
// files_dir spells it (see db.Dialect.FileDir).
func (r *Dirs) fileDir() string { return db.DialectOf(r.x).FileDir() }

// DirKey returns how fileDir spells the directory path.
func DirKey(path string) string {
	if path == "/" {
		return ""
	}
	return path
}

// DirOf returns the directory fileDir names by key.
func DirOf(key string) string {
	if key == "" {
		return "/"
	}
	return key
}

const dirColumns = "id, machine, path, parent, complete, COALESCE(scan_id, 0), size, files, tree, content, content_sum"

func scanDir(s interface{ Scan(...any) error }) (dto.Dir, error) {
	var d dto.Dir
	err := s.Scan(&d.ID, &d.Machine, &d.Path, &d.Parent, &d.Complete, &d.ScanID, &d.Size, &d.Files, &d.Tree, &d.Content, &d.ContentSum)
	return d, err
}

func (r *Dirs) list(ctx context.Context, q string, args ...any) ([]dto.Dir, error) {
	rows, err := r.x.QueryContext(ctx, r.x.Rebind(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []dto.Dir
	for rows.Next() {
		d, err := scanDir(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Under returns machine's directories at or below root.
func (r *Dirs) Under(ctx context.Context, machine, root string) ([]dto.Dir, error) {
	under, args := underCond("path", root)
	out, err := r.list(ctx, "SELECT "+dirColumns+" FROM dirs WHERE machine = ? AND "+under, append([]any{machine}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("list directories under %s: %w", root, err)
	}
	return out, nil
}

// headColumns are those of a directory without its size, files and
// digests: a content sum is 4 KB, and a scan's update of the digests reads
// the directories it computes again, and those it may remove, by head only.
const headColumns = "id, machine, path, parent, complete, COALESCE(scan_id, 0), 0, 0, NULL, NULL, NULL"

// Heads returns machine's directories at or below root, without their
// sizes and digests.
func (r *Dirs) Heads(ctx context.Context, machine, root string) ([]dto.Dir, error) {
	under, args := underCond("path", root)
	out, err := r.list(ctx, "SELECT "+headColumns+" FROM dirs WHERE machine = ? AND "+under, append([]any{machine}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("list directories under %s: %w", root, err)
	}
	return out, nil
}

// Get returns machine's directories among paths, by path, without their
// sizes and digests.
func (r *Dirs) Get(ctx context.Context, machine string, paths []string) (map[string]dto.Dir, error) {
	out := make(map[string]dto.Dir, len(paths))
	for start := 0; start < len(paths); start += ChunkSize {
		q, args, err := sqlx.In("SELECT "+headColumns+" FROM dirs WHERE machine = ? AND path IN (?)", machine, paths[start:min(start+ChunkSize, len(paths))])
		if err != nil {
			return nil, err
		}
		ds, err := r.list(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("read directories: %w", err)
		}
		for _, d := range ds {
			out[d.Path] = d
		}
	}
	return out, nil
}

// Mark records that a scan listed the directories ds (Machine, Path,
// Parent, Complete, ScanID), keeping their digests until they are computed
// again.
func (r *Dirs) Mark(ctx context.Context, ds []dto.Dir) error {
	r.t.Add(dto.TagDirs)
	stmt, err := r.x.PreparexContext(ctx, r.x.Rebind(`INSERT INTO dirs (machine, path, parent, complete, scan_id)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (machine, path) DO UPDATE SET
		parent = excluded.parent, complete = excluded.complete, scan_id = excluded.scan_id`))
	if err != nil {
		return fmt.Errorf("record directories: %w", err)
	}
	defer stmt.Close()
	for _, d := range ds {
		if _, err := stmt.ExecContext(ctx, d.Machine, d.Path, d.Parent, d.Complete, d.ScanID); err != nil {
			return fmt.Errorf("record directory %s: %w", d.Path, err)
		}
	}
	return nil
}

// ClearEntries forgets the stored own files of the directories paths of
// machine, so that their digests are next computed from their files' rows:
// for a change made outside a scan (dedupe), which the scans' rows do not
// tell.
func (r *Dirs) ClearEntries(ctx context.Context, machine string, paths []string) error {
	r.t.Add(dto.TagDirs)
	for start := 0; start < len(paths); start += ChunkSize {
		q, args, err := sqlx.In("UPDATE dirs SET entries = NULL WHERE machine = ? AND path IN (?)", machine, paths[start:min(start+ChunkSize, len(paths))])
		if err != nil {
			return err
		}
		if _, err := r.x.ExecContext(ctx, r.x.Rebind(q), args...); err != nil {
			return fmt.Errorf("record directories: %w", err)
		}
	}
	return nil
}

// SetIncomplete marks the directory path of machine as not held in full.
func (r *Dirs) SetIncomplete(ctx context.Context, machine, path string) error {
	r.t.Add(dto.TagDirs)
	_, err := r.x.ExecContext(ctx, r.x.Rebind("UPDATE dirs SET complete = 0 WHERE machine = ? AND path = ?"), machine, path)
	if err != nil {
		return fmt.Errorf("record directory %s: %w", path, err)
	}
	return nil
}

// Delete removes the directories with ids.
func (r *Dirs) Delete(ctx context.Context, ids []int64) error {
	r.t.Add(dto.TagDirs)
	for start := 0; start < len(ids); start += ChunkSize {
		q, args, err := sqlx.In("DELETE FROM dirs WHERE id IN (?)", ids[start:min(start+ChunkSize, len(ids))])
		if err != nil {
			return err
		}
		if _, err := r.x.ExecContext(ctx, r.x.Rebind(q), args...); err != nil {
			return fmt.Errorf("remove directories: %w", err)
		}
	}
	return nil
}

// DigestWriter stores directories' digests with one prepared statement.
type DigestWriter struct{ st *sqlx.Stmt }

// DigestWriter returns a DigestWriter; Close it after use.
func (r *Dirs) DigestWriter(ctx context.Context) (*DigestWriter, error) {
	r.t.Add(dto.TagDirs)
	st, err := r.x.PreparexContext(ctx, r.x.Rebind("UPDATE dirs SET size = ?, files = ?, tree = ?, content = ?, content_sum = ?, entries = ? WHERE id = ?"))
	if err != nil {
		return nil, fmt.Errorf("record directory digests: %w", err)
	}
	return &DigestWriter{st: st}, nil
}

// Set stores d's size, files and digests (nil digests: none), and entries,
// its own files as the digests saw them (see Entries).
func (w *DigestWriter) Set(ctx context.Context, d dto.Dir, entries []byte) error {
	if _, err := w.st.ExecContext(ctx, d.Size, d.Files, d.Tree, d.Content, d.ContentSum, entries, d.ID); err != nil {
		return fmt.Errorf("record digests of %s: %w", d.Path, err)
	}
	return nil
}

// Close releases the statement.
func (w *DigestWriter) Close() error { return w.st.Close() }

// Entries returns what DigestWriter.Set last stored as the own files of the
// directories with ids (at most ChunkSize), with their content sums, by id;
// none for a directory for which it never did.
func (r *Dirs) Entries(ctx context.Context, ids []int64) (map[int64]dto.DirEntries, error) {
	out := make(map[int64]dto.DirEntries, len(ids))
	q, args, err := sqlx.In("SELECT id, entries, content_sum FROM dirs WHERE id IN (?) AND entries IS NOT NULL", ids)
	if err != nil {
		return nil, err
	}
	rows, err := r.x.QueryContext(ctx, r.x.Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("read directories: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var e dto.DirEntries
		if err := rows.Scan(&id, &e.Entries, &e.ContentSum); err != nil {
			return nil, fmt.Errorf("read directories: %w", err)
		}
		out[id] = e
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read directories: %w", err)
	}
	return out, nil
}

// WithEntries returns the directories of machine that have entries stored.
func (r *Dirs) WithEntries(ctx context.Context, machine string) (map[string]bool, error) {
	var paths []string
	if err := sqlx.SelectContext(ctx, r.x, &paths, r.x.Rebind("SELECT path FROM dirs WHERE machine = ? AND entries IS NOT NULL"), machine); err != nil {
		return nil, fmt.Errorf("list directories: %w", err)
	}
	out := make(map[string]bool, len(paths))
	for _, p := range paths {
		out[p] = true
	}
	return out, nil
}

// Unsettled returns the complete directories of machine with no stored
// entries: their digests are to be computed again from the rows
// (catalogued before entries were stored or before the digest scheme
// changed, or a row changed outside a scan). A computation stores entries
// for every directory it handles.
func (r *Dirs) Unsettled(ctx context.Context, machine string) ([]string, error) {
	var paths []string
	if err := sqlx.SelectContext(ctx, r.x, &paths, r.x.Rebind("SELECT path FROM dirs WHERE machine = ? AND entries IS NULL AND complete = 1"), machine); err != nil {
		return nil, fmt.Errorf("list directories: %w", err)
	}
	return paths, nil
}

// childColumns are those of a directory without its content sum (4 KB),
// which a scan's update of the digests reads only for the directories it
// does not compute again (ContentSums).
const childColumns = "id, machine, path, parent, complete, COALESCE(scan_id, 0), size, files, tree, content, NULL"

// ChildrenOf returns machine's directories right below those at paths, by
// their Parent, without their content sums.
func (r *Dirs) ChildrenOf(ctx context.Context, machine string, paths []string) (map[string][]dto.Dir, error) {
	out := map[string][]dto.Dir{}
	for start := 0; start < len(paths); start += ChunkSize {
		keys := make([]string, 0, min(ChunkSize, len(paths)-start))
		for _, p := range paths[start:min(start+ChunkSize, len(paths))] {
			keys = append(keys, DirKey(p))
		}
		q, args, err := sqlx.In("SELECT "+childColumns+" FROM dirs WHERE machine = ? AND parent IN (?)", machine, keys)
		if err != nil {
			return nil, err
		}
		ds, err := r.list(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("list directories: %w", err)
		}
		for _, d := range ds {
			if d.Path == "/" {
				continue // the top has no parent, and its key is the one of its children
			}
			out[d.Parent] = append(out[d.Parent], d)
		}
	}
	return out, nil
}

// ContentSums returns the content sums of the directories with ids that
// have one, by id.
func (r *Dirs) ContentSums(ctx context.Context, ids []int64) (map[int64][]byte, error) {
	out := make(map[int64][]byte, len(ids))
	for start := 0; start < len(ids); start += ChunkSize {
		q, args, err := sqlx.In("SELECT id, content_sum FROM dirs WHERE id IN (?) AND content_sum IS NOT NULL", ids[start:min(start+ChunkSize, len(ids))])
		if err != nil {
			return nil, err
		}
		rows, err := r.x.QueryContext(ctx, r.x.Rebind(q), args...)
		if err != nil {
			return nil, fmt.Errorf("read directories: %w", err)
		}
		for rows.Next() {
			var id int64
			var sum []byte
			if err := rows.Scan(&id, &sum); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read directories: %w", err)
			}
			out[id] = sum
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read directories: %w", err)
		}
	}
	return out, nil
}

// Files returns the present plain files right in the directory path, with
// their names in Path.
func (r *Dirs) Files(ctx context.Context, machine, path string) ([]dto.DirFile, error) {
	files, err := r.FilesIn(ctx, machine, []string{path})
	return files[path], err
}

// FilesIn returns, by directory path, the present plain files right in
// each of the directories paths (at most ChunkSize), with their names in
// Path, in one query.
func (r *Dirs) FilesIn(ctx context.Context, machine string, paths []string) (map[string][]dto.DirFile, error) {
	out := make(map[string][]dto.DirFile, len(paths))
	if len(paths) == 0 {
		return out, nil
	}
	keys := make([]string, len(paths))
	for i, p := range paths {
		keys[i] = DirKey(p)
	}
	what := paths[0]
	if len(paths) > 1 {
		what = fmt.Sprintf("%d directories", len(paths))
	}
	q, args, err := sqlx.In(`SELECT `+r.fileDir()+`, name, size, sha256, device, inode, nlink, exec FROM files
		WHERE machine = ? AND `+r.fileDir()+` IN (?) AND is_archived = 0 AND operation <> 'DEL'`, machine, keys)
	if err != nil {
		return nil, err
	}
	rows, err := r.x.QueryContext(ctx, r.x.Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("list files in %s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var f dto.DirFile
		var dev, ino, nlink int64
		var exec sql.NullBool
		if err := rows.Scan(&key, &f.Path, &f.Size, &f.SHA256, &dev, &ino, &nlink, &exec); err != nil {
			return nil, fmt.Errorf("list files in %s: %w", what, err)
		}
		f.Device, f.Inode, f.Nlink = uint64(dev), uint64(ino), uint64(nlink)
		f.Exec, f.ExecUnknown = exec.Bool, !exec.Valid
		dir := DirOf(key)
		out[dir] = append(out[dir], f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list files in %s: %w", what, err)
	}
	return out, nil
}

// EachFileUnder calls fn for every present plain file of machine at or
// below root ("" for everywhere; machine "" for every machine), with its
// directory in Path. sha256 is valid during fn only.
func (r *Dirs) EachFileUnder(ctx context.Context, machine, root string, fn func(machine string, f dto.DirFile) error) error {
	conds := []string{"is_archived = 0", "operation <> 'DEL'"}
	var args []any
	if machine != "" {
		conds = append(conds, "machine = ?")
		args = append(args, machine)
	}
	if root != "" {
		under, uargs := underCond("path", root)
		conds = append(conds, under)
		args = append(args, uargs...)
	}
	rows, err := r.x.QueryContext(ctx, r.x.Rebind("SELECT machine, "+r.fileDir()+", size, sha256, device, inode, nlink FROM files WHERE "+
		strings.Join(conds, " AND ")), args...)
	if err != nil {
		return fmt.Errorf("list files: %w", err)
	}
	defer rows.Close()
	var m string
	var f dto.DirFile
	var sum sql.RawBytes
	var dev, ino, nlink int64
	for rows.Next() {
		if err := rows.Scan(&m, &f.Path, &f.Size, &sum, &dev, &ino, &nlink); err != nil {
			return err
		}
		f.Path, f.SHA256, f.Device, f.Inode, f.Nlink = DirOf(f.Path), sum, uint64(dev), uint64(ino), uint64(nlink)
		if err := fn(m, f); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ChangedFiles returns the directories of the plain files of machine that
// the scans ids wrote, each with how many of the files written there are
// present (not DEL), and, for the directories in keep, those files, each
// with its name in Path and Deleted when it is gone.
func (r *Dirs) ChangedFiles(ctx context.Context, machine string, ids []int64, keep map[string]bool) (map[string]int, map[string][]dto.DirFile, error) {
	dirs, out := map[string]int{}, map[string][]dto.DirFile{}
	// Without directories to keep (a first scan), only the counts are read:
	// 1,000,000 rows' names and digests cost a second more.
	cols := "name, size, sha256, exec, "
	if len(keep) == 0 {
		cols = ""
	}
	for start := 0; start < len(ids); start += ChunkSize {
		// machine || '' and is_archived + 0 are no index keys, on either
		// engine: the rows are found by files_scan alone.
		q, args, err := sqlx.In("SELECT "+r.fileDir()+", "+cols+"CASE WHEN operation = 'DEL' THEN 1 ELSE 0 END FROM files WHERE scan_id IN (?) AND machine || '' = ? AND is_archived + 0 = 0",
			ids[start:min(start+ChunkSize, len(ids))], machine)
		if err != nil {
			return nil, nil, err
		}
		rows, err := r.x.QueryContext(ctx, r.x.Rebind(q), args...)
		if err != nil {
			return nil, nil, fmt.Errorf("list changed files: %w", err)
		}
		var key string
		var f dto.DirFile
		var exec sql.NullBool
		dest := []any{&key, &f.Path, &f.Size, &f.SHA256, &exec, &f.Deleted}
		if cols == "" {
			dest = []any{&key, &f.Deleted}
		}
		for rows.Next() {
			f = dto.DirFile{}
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return nil, nil, fmt.Errorf("list changed files: %w", err)
			}
			f.Exec, f.ExecUnknown = exec.Bool, !exec.Valid
			dir := DirOf(key)
			n := dirs[dir] // listed even with no present file
			if !f.Deleted {
				n++
			}
			dirs[dir] = n
			if keep[dir] {
				out[dir] = append(out[dir], f)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, nil, fmt.Errorf("list changed files: %w", err)
		}
	}
	return dirs, out, nil
}

// PendingScans returns the scans of machine whose changes the directory
// digests do not include yet: scan current, and those no longer running.
func (r *Dirs) PendingScans(ctx context.Context, machine string, current int64) ([]int64, error) {
	var ids []int64
	err := sqlx.SelectContext(ctx, r.x, &ids, r.x.Rebind(`SELECT id FROM scans
		WHERE machine = ? AND dirs_done = 0 AND (id = ? OR status <> 'running') ORDER BY id`), machine, current)
	if err != nil {
		return nil, fmt.Errorf("list scans: %w", err)
	}
	return ids, nil
}

// ScansDone records that the directory digests include the changes of the
// scans ids.
func (r *Dirs) ScansDone(ctx context.Context, ids []int64) error {
	r.t.Add(dto.TagScans, dto.TagDirs)
	for start := 0; start < len(ids); start += ChunkSize {
		q, args, err := sqlx.In("UPDATE scans SET dirs_done = 1 WHERE id IN (?)", ids[start:min(start+ChunkSize, len(ids))])
		if err != nil {
			return err
		}
		if _, err := r.x.ExecContext(ctx, r.x.Rebind(q), args...); err != nil {
			return fmt.Errorf("record scans: %w", err)
		}
	}
	return nil
}

// Duplicates returns the directories with a digest shared by at least two
// selected directories, ordered by digest then machine and path; the digest
// is in Tree (or Content with f.Content).
func (r *Dirs) Duplicates(ctx context.Context, f dto.DirFilter) ([]dto.Dir, error) {
	col := "tree"
	if f.Content {
		col = "content"
	}
	conds := []string{col + " IS NOT NULL", "size >= ?"}
	args := []any{f.MinSize}
	if f.Machine != "" {
		conds = append(conds, "machine = ?")
		args = append(args, f.Machine)
	}
	if f.Under != "" {
		under, uargs := underCond("path", f.Under)
		conds = append(conds, under)
		args = append(args, uargs...)
	}
	where := strings.Join(conds, " AND ")
	out, err := r.list(ctx, "SELECT "+dirColumns+" FROM dirs WHERE "+where+" AND "+col+" IN (SELECT "+col+
		" FROM dirs WHERE "+where+" GROUP BY "+col+" HAVING COUNT(*) >= 2) ORDER BY "+col+", machine, path", append(args, args...)...)
	if err != nil {
		return nil, fmt.Errorf("list duplicate directories: %w", err)
	}
	return out, nil
}

// Complete returns the selected directories that have digests.
func (r *Dirs) Complete(ctx context.Context, f dto.DirFilter) ([]dto.Dir, error) {
	conds := []string{"content IS NOT NULL"}
	var args []any
	if f.Machine != "" {
		conds = append(conds, "machine = ?")
		args = append(args, f.Machine)
	}
	if f.Under != "" {
		under, uargs := underCond("path", f.Under)
		conds = append(conds, under)
		args = append(args, uargs...)
	}
	out, err := r.list(ctx, "SELECT "+dirColumns+" FROM dirs WHERE "+strings.Join(conds, " AND ")+" ORDER BY machine, path", args...)
	if err != nil {
		return nil, fmt.Errorf("list directories: %w", err)
	}
	return out, nil
}
