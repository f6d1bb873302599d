package repo

import (
	"context"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
)

// Tree returns one level of machine's directory dir (an absolute path): each
// entry directly in it, a subdirectory with the present files below it, their
// bytes and the bytes of those whose content is also present elsewhere (on
// any machine). Archive entries count as their archive. Subdirectories come
// first, then files, each by name.
func (f *Files) Tree(ctx context.Context, machine, dir string) ([]dto.TreeEntry, error) {
	prefix := strings.TrimSuffix(dir, "/") + "/"
	under, uargs := underCond("f.path", dir)
	slash := db.DialectOf(f.x).Instr("rest", "'/'")
	q := `
		WITH below AS (
			SELECT f.id, substr(f.path, ?) AS rest, f.size, f.sha256
			FROM files f
			WHERE f.machine = ? AND f.operation <> 'DEL' AND f.is_archived = 0 AND ` + under + `
				AND f.path > ?
		)
		SELECT
			CASE WHEN ` + slash + ` > 0 THEN substr(rest, 1, ` + slash + ` - 1) ELSE rest END AS name,
			` + slash + ` > 0 AS dir,
			COUNT(*) AS files,
			SUM(size) AS bytes,
			SUM(CASE WHEN b.sha256 IS NOT NULL AND EXISTS (
				SELECT 1 FROM files d WHERE d.sha256 = b.sha256 AND d.operation <> 'DEL' AND d.id <> b.id)
				THEN size ELSE 0 END) AS dup_bytes
		FROM below b
		GROUP BY 1, 2
		ORDER BY 2 DESC, 1`
	args := append([]any{len(prefix) + 1, machine}, uargs...)
	args = append(args, prefix)
	var rows []struct {
		Name     string `db:"name"`
		Dir      bool   `db:"dir"`
		Files    int64  `db:"files"`
		Bytes    int64  `db:"bytes"`
		DupBytes int64  `db:"dup_bytes"`
	}
	if err := sqlx.SelectContext(ctx, f.x, &rows, f.x.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("list directory %s: %w", dir, err)
	}
	out := make([]dto.TreeEntry, len(rows))
	for i, r := range rows {
		out[i] = dto.TreeEntry{Name: r.Name, Path: prefix + r.Name, PathB64: dto.PathB64(prefix + r.Name), Dir: r.Dir, Files: r.Files, Bytes: r.Bytes, DupBytes: r.DupBytes}
	}
	return out, nil
}
