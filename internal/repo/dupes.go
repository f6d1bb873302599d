package repo

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
)

// DupeFilter selects the files that take part in duplicate grouping. Only
// present files (not DEL) with a content hash ever do.
type DupeFilter struct {
	Machine         string   // one machine; "" for all
	Under           []string // subtrees (path prefixes), any of them; none for everywhere
	MinSize         int64    // smallest file size in bytes
	MaxSize         int64    // largest file size in bytes; < 0 for no bound
	Name            string   // a shell pattern the file name matches (see db.GlobFunction); "" for all
	IncludeArchived bool     // also entries inside archives
}

// where returns the conditions on files aliased a, with their arguments.
func (d DupeFilter) where(a string) (string, []any) {
	conds := []string{a + ".sha256 IS NOT NULL", a + ".operation <> 'DEL'", a + ".size >= ?"}
	args := []any{d.MinSize}
	if !d.IncludeArchived {
		conds = append(conds, a+".is_archived = 0")
	}
	if d.Machine != "" {
		conds = append(conds, a+".machine = ?")
		args = append(args, d.Machine)
	}
	if d.MaxSize >= 0 {
		conds = append(conds, a+".size <= ?")
		args = append(args, d.MaxSize)
	}
	if d.Name != "" {
		conds = append(conds, db.GlobFunction+"(?, "+a+".name) = 1")
		args = append(args, d.Name)
	}
	if len(d.Under) > 0 {
		var any []string
		for _, u := range d.Under {
			under, uargs := underCond(a+".path", u)
			any = append(any, under)
			args = append(args, uargs...)
		}
		conds = append(conds, "("+strings.Join(any, " OR ")+")")
	}
	return strings.Join(conds, " AND "), args
}

// groupsQuery lists the contents held by at least two selected files as
// (sha256, n, copies, size): the number of files and of distinct copies.
//
// Copies are the files minus the extra names of hard links: rows of one
// machine, device and inode. Only files that had more than one link when
// scanned can be such names, so that correction reads the few rows of the
// partial index files_links instead of counting distinct inodes in every
// group, which would cost more than the grouping itself.
func groupsQuery(d DupeFilter) (string, []any) {
	where, args := d.where("f")
	q := `SELECT g.sha256 AS sha256, g.n AS n, g.n - COALESCE(l.extra, 0) AS copies, g.size AS size
		FROM (SELECT f.sha256 AS sha256, COUNT(*) AS n, MAX(f.size) AS size FROM files f WHERE ` + where + `
			GROUP BY f.sha256 HAVING COUNT(*) >= 2) g
		LEFT JOIN (SELECT s.sha256 AS sha256, SUM(s.k - 1) AS extra
			FROM (SELECT f.sha256 AS sha256, COUNT(*) AS k FROM files f
				WHERE f.nlink > 1 AND f.inode <> 0 AND f.is_archived = 0 AND ` + where + `
				GROUP BY f.sha256, f.machine, f.device, f.inode HAVING COUNT(*) > 1) s
			GROUP BY s.sha256) l ON l.sha256 = g.sha256`
	return q, append(args, args...)
}

// dupeRow is one row of the Dupes statement, scanned by position.
type dupeRow struct {
	Size, Device, Inode        int64
	N, Copies                  int
	Machine, Path, ArchivePath string
}

// Dupes calls fn for every group of at least two selected files with the
// same content, largest reclaimable space ((copies-1) * size) first, ties by
// sha256, files within a group by path (then machine and archive path).
//
// It is one statement: the groups come from one pass over files_content in
// content order, their files from the same index, adjacent, and the database
// sorts the rows, spilling to temporary files when they outgrow its memory.
// Only the group being read is held here, so memory does not grow with the
// catalog. fn's error stops the listing and is returned.
func (f *Files) Dupes(ctx context.Context, d DupeFilter, fn func(dto.DupeGroup) error) error {
	groups, args := groupsQuery(d)
	where, wargs := d.where("f2")
	// Device and inode only of files that may be hard links (see markLinked).
	rows, err := f.x.QueryContext(ctx, f.x.Rebind(`SELECT g.sha256, g.size, g.n, g.copies,
			f2.machine, f2.path, f2.archive_path,
			CASE WHEN f2.nlink > 1 AND f2.inode <> 0 AND f2.is_archived = 0 THEN f2.device ELSE 0 END,
			CASE WHEN f2.nlink > 1 AND f2.inode <> 0 AND f2.is_archived = 0 THEN f2.inode ELSE 0 END
		FROM (`+groups+`) g
		CROSS JOIN files f2
		WHERE f2.sha256 = g.sha256 AND `+where+`
		ORDER BY (g.copies - 1) * g.size DESC, g.sha256, f2.path, f2.machine, f2.archive_path`), append(args, wargs...)...)
	if err != nil {
		return fmt.Errorf("list duplicates: %w", err)
	}
	defer rows.Close()
	var g dto.DupeGroup
	var cur []byte
	var r dupeRow
	var sum, machine sql.RawBytes
	emit := func() error {
		if len(g.Files) == 0 {
			return nil
		}
		markLinked(g.Files)
		return fn(g)
	}
	for rows.Next() {
		if err := rows.Scan(&sum, &r.Size, &r.N, &r.Copies, &machine, &r.Path,
			&r.ArchivePath, &r.Device, &r.Inode); err != nil {
			return fmt.Errorf("read duplicate: %w", err)
		}
		if !bytes.Equal(sum, cur) || len(g.Files) == 0 {
			if err := emit(); err != nil {
				return err
			}
			cur = append(cur[:0], sum...)
			g = dto.DupeGroup{SHA256: hexOf(sum), Size: r.Size, Count: r.N, Copies: r.Copies,
				Reclaimable: int64(r.Copies-1) * r.Size, Files: make([]dto.DupeFile, 0, r.N)}
		}
		// Machine names repeat on every row: keep one string per name.
		if r.Machine != string(machine) {
			r.Machine = string(machine)
		}
		g.Files = append(g.Files, dto.DupeFile{Machine: r.Machine, Path: r.Path, ArchivePath: r.ArchivePath,
			Device: uint64(r.Device), Inode: uint64(r.Inode)})
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list duplicates: %w", err)
	}
	return emit()
}

// markLinked sets Linked on files that share machine, device and inode with
// another file of the group: hard links, which Dupes counts as one copy.
// Device and Inode are set only on files that may be links (see Dupes).
func markLinked(fs []dto.DupeFile) {
	type key struct {
		machine       string
		device, inode uint64
	}
	var n map[key]int
	for _, f := range fs {
		if f.Inode != 0 {
			if n == nil {
				n = make(map[key]int)
			}
			n[key{f.Machine, f.Device, f.Inode}]++
		}
	}
	for i, f := range fs {
		if f.Inode != 0 && n[key{f.Machine, f.Device, f.Inode}] > 1 {
			fs[i].Linked = true
		}
	}
}

// DupeTotals returns the totals of what Dupes would list with d.
func (f *Files) DupeTotals(ctx context.Context, d DupeFilter) (dto.DupeTotals, error) {
	q, args := groupsQuery(d)
	var t struct {
		Groups      int64 `db:"groups_total"`
		Files       int64 `db:"files_total"`
		Reclaimable int64 `db:"reclaimable_total"`
	}
	err := sqlx.GetContext(ctx, f.x, &t, f.x.Rebind(`SELECT COUNT(*) AS groups_total,
		COALESCE(SUM(n), 0) AS files_total, COALESCE(SUM((copies - 1) * size), 0) AS reclaimable_total
		FROM (`+q+`) t`), args...)
	if err != nil {
		return dto.DupeTotals{}, fmt.Errorf("count duplicates: %w", err)
	}
	return dto.DupeTotals(t), nil
}
