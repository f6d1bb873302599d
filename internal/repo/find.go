package repo

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
)

// likePattern renders l as a LIKE pattern with \ as the escape character,
// each part first written by part (see db.Dialect.Like).
func likePattern(l dto.Like, part func(string) string) string {
	esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	var b strings.Builder
	if !l.Prefix {
		b.WriteByte('%')
	}
	for i, p := range l.Parts {
		if i > 0 {
			b.WriteByte('%')
		}
		b.WriteString(esc.Replace(part(p)))
	}
	if !l.Suffix && len(l.Parts) > 0 {
		b.WriteByte('%')
	}
	return b.String()
}

// likeCond returns the condition of l on column col in dialect dl, or ""
// when l keeps all.
func likeCond(dl db.Dialect, l dto.Like, col string) (string, any) {
	if l.All() {
		return "", nil
	}
	c, part := dl.Like(col, l.Lower)
	return c, likePattern(l, part)
}

type foundRow struct {
	fileRow
	MD5    []byte `db:"md5"`
	SHA1   []byte `db:"sha1"`
	SHA256 []byte `db:"sha256"`
}

// MinHashPrefix is the fewest hex digits a sha256 prefix may have.
const MinHashPrefix = 8

// CheckHash checks a hash find can search for: lower-case hex, an md5 (32
// digits), a sha1 (40), a sha256 (64), or a prefix of a sha256 of
// MinHashPrefix digits or more (any other length).
func CheckHash(h string) error {
	_, err := DigestColumn(h)
	if err == nil || len(h) < MinHashPrefix || len(h) > 64 {
		if err != nil {
			err = fmt.Errorf("hash %q has %d hex digits; give an md5 (32), a sha1 (40), a sha256 (64) or a sha256 prefix of %d or more", h, len(h), MinHashPrefix)
		}
		return err
	}
	if strings.Trim(h, "0123456789abcdef") != "" {
		return fmt.Errorf("hash %q is not lower-case hexadecimal", h)
	}
	return nil
}

// hashCond returns the condition on files aliased f for a hash CheckHash
// accepts. A sha256 prefix is a range of the sha256 index: from the prefix
// padded with 0 to it padded with f.
func hashCond(h string) (string, []any, error) {
	if err := CheckHash(h); err != nil {
		return "", nil, err
	}
	if col, err := DigestColumn(h); err == nil {
		raw, err := hex.DecodeString(h)
		return "f." + col + " = ?", []any{raw}, err
	}
	lo, err := hex.DecodeString(h + strings.Repeat("0", 64-len(h)))
	if err != nil {
		return "", nil, err
	}
	hi, err := hex.DecodeString(h + strings.Repeat("f", 64-len(h)))
	return "f.sha256 BETWEEN ? AND ?", []any{lo, hi}, err
}

// Find calls fn for each entry matching q, ordered by machine, path and
// archive path. It streams. When fn returns
// ErrStop, Find stops and returns nil; fn's other errors are returned.
func (f *Files) Find(ctx context.Context, q dto.FindFilter, fn func(dto.FileWithHash) error) error {
	query, args, err := findQuery(db.DialectOf(f.x), q)
	if err != nil {
		return err
	}
	rows, err := f.x.QueryxContext(ctx, f.x.Rebind(query), args...)
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
		if r.SHA256 != nil || r.MD5 != nil || r.SHA1 != nil { // an import may hold one digest
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

// findQuery returns Find's statement for q and its arguments.
func findQuery(dl db.Dialect, q dto.FindFilter) (string, []any, error) {
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
	// One of them, the first the database can narrow with, becomes the
	// subquery; the others are plain conditions.
	sub := false
	for i, l := range append(append([]dto.Like{}, q.Name...), q.Path...) {
		col := "name"
		if i >= len(q.Name) {
			col = "path"
		}
		if c, arg := likeCond(dl, l, col); c != "" && !sub {
			if lo, hi, ok := prefixRange(dl, l); ok && col == "name" {
				add("f.id IN (SELECT id FROM files WHERE "+col+" >= ? AND "+col+" < ? AND "+c+")", lo, hi, arg)
			} else {
				add("f.id IN (SELECT id FROM files WHERE "+c+")", arg)
			}
			sub = true
		} else if c != "" {
			c, arg = likeCond(dl, l, "f."+col)
			add(c, arg)
		}
	}
	if q.Hash != "" {
		c, a, err := hashCond(q.Hash)
		if err != nil {
			return "", nil, err
		}
		add(c, a...)
	}
	if !q.IncludeArchived {
		add("f.is_archived = 0")
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
	switch {
	case q.Under != "" && q.UnderIsHost:
		under, args := underHostCond("f.machine", "f.path", []string{q.Under}, q.UnderVolumes)
		add(under, args...)
	case q.Under != "":
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
	return "SELECT " + cols + ", f.md5, f.sha1, f.sha256 FROM files f" + where +
		" ORDER BY f.machine, f.path, f.archive_path", args, nil
}

// prefixRange returns the range of texts that begin with l's first part,
// when l must begin with it byte for byte: a pattern that starts with
// literal ASCII, matched with case (the caller matches the names the
// database returns exactly, as they are stored). SQLite's LIKE ignores
// ASCII case and so reads a whole index; the range reads the part of it
// that can match (find --name IMG_1234.JPG on 1,000,000 rows: one index
// seek instead of a scan of the name index). On PostgreSQL the trigram
// index serves LIKE: no range.
func prefixRange(dl db.Dialect, l dto.Like) (lo, hi string, ok bool) {
	if dl.Shared || l.Lower || !l.Prefix || len(l.Parts) == 0 || l.Parts[0] == "" {
		return "", "", false
	}
	// Parts hold ASCII only (match.Hint), so the last byte has a successor.
	p := l.Parts[0]
	return p, p[:len(p)-1] + string([]byte{p[len(p)-1] + 1}), true
}
