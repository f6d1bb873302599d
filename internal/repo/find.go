package repo

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/indexer/indexer/internal/dto"
)

// Like is a coarse filter on a text column, rendered as LIKE: the text holds
// Parts in order; with Prefix the first part starts it, with Suffix the last
// ends it; with Lower the lower-cased text is compared (Parts must then be
// lower case). Databases differ on the case-sensitivity of LIKE, so a Like
// may keep more rows than an exact match would: callers filter exactly after.
// The zero Like keeps everything.
type Like struct {
	Parts          []string
	Prefix, Suffix bool
	Lower          bool
}

func (l Like) any() bool { return len(l.Parts) == 0 && !(l.Prefix && l.Suffix) }

// pattern renders l as a LIKE pattern with \ as the escape character.
func (l Like) pattern() string {
	esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	var b strings.Builder
	if !l.Prefix {
		b.WriteByte('%')
	}
	for i, p := range l.Parts {
		if i > 0 {
			b.WriteByte('%')
		}
		b.WriteString(esc.Replace(p))
	}
	if !l.Suffix && len(l.Parts) > 0 {
		b.WriteByte('%')
	}
	return b.String()
}

// cond returns the condition of l on column col, or "" when l keeps all.
func (l Like) cond(col string) (string, any) {
	if l.any() {
		return "", nil
	}
	if l.Lower {
		col = "LOWER(" + col + ")"
	}
	return col + ` LIKE ? ESCAPE '\'`, l.pattern()
}

// FindFilter selects catalog entries. Every set field must hold.
type FindFilter struct {
	Name    Like   // on the file name
	Path    Like   // on the path
	Hash    string // a digest in lower-case hex: md5, sha1 or sha256 by length
	MinSize int64
	MaxSize int64  // < 0 for no bound
	Machine string // "" for all
	Under   string // a subtree (path prefix); "" for everywhere
	Deleted bool   // also DEL rows
}

type foundRow struct {
	fileRow
	MD5    []byte `db:"md5"`
	SHA1   []byte `db:"sha1"`
	SHA256 []byte `db:"sha256"`
}

// Find calls fn for each entry matching q, ordered by machine, path and
// archive path; archive entries included. It streams. When fn returns
// ErrStop, Find stops and returns nil; fn's other errors are returned.
func (f *Files) Find(ctx context.Context, q FindFilter, fn func(dto.FileWithHash) error) error {
	var conds []string
	var args []any
	add := func(c string, a ...any) {
		conds = append(conds, c)
		args = append(args, a...)
	}
	// A LIKE with a leading wildcard reads a whole index. Asking for the ids
	// in a subquery makes the database scan the narrow name (or path) index
	// and fetch only the rows that pass, instead of walking every row in
	// output order.
	name, nameArg := q.Name.cond("name")
	path, pathArg := q.Path.cond("path")
	switch {
	case name != "" && path != "":
		add("f.id IN (SELECT id FROM files WHERE "+name+")", nameArg)
		add("f."+path, pathArg)
	case name != "":
		add("f.id IN (SELECT id FROM files WHERE "+name+")", nameArg)
	case path != "":
		add("f.id IN (SELECT id FROM files WHERE "+path+")", pathArg)
	}
	if q.Hash != "" {
		col, raw, err := digestParam(q.Hash)
		if err != nil {
			return err
		}
		add("f."+col+" = ?", raw)
	}
	if q.MinSize > 0 {
		add("f.size >= ?", q.MinSize)
	}
	if q.MaxSize >= 0 {
		add("f.size <= ?", q.MaxSize)
	}
	if q.Machine != "" {
		add("f.machine = ?", q.Machine)
	}
	if q.Under != "" {
		under, args := underCond("f.path", q.Under)
		add(under, args...)
	}
	if !q.Deleted {
		add("f.operation <> 'DEL'")
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	cols := "f." + strings.ReplaceAll(fileColumns, ", ", ", f.")
	rows, err := f.x.QueryxContext(ctx, f.x.Rebind("SELECT "+cols+", f.md5, f.sha1, f.sha256 FROM files f"+
		where+" ORDER BY f.machine, f.path, f.archive_path"), args...)
	if err != nil {
		return fmt.Errorf("find files: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r foundRow
		if err := rows.StructScan(&r); err != nil {
			return fmt.Errorf("read file: %w", err)
		}
		m := dto.FileWithHash{FileMeta: r.dto()}
		if r.SHA256 != nil {
			m.Hash = digestRow{Size: m.Size, MD5: r.MD5, SHA1: r.SHA1, SHA256: r.SHA256}.dto()
		}
		if err := fn(m); err != nil {
			if errors.Is(err, ErrStop) {
				return nil
			}
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("find files: %w", err)
	}
	return nil
}
