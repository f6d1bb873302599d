package repo

import (
	"bytes"
	"container/heap"
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/match"
)

// dupeFilter is a dupeFilter as the queries take it: with the names that
// match its Name where SQL cannot match it (see withNames).
type dupeFilter struct {
	dto.DupeFilter
	names [][]byte // set by withNames: the names that match Name
}

// withNames returns d ready for x's engine: where SQL cannot call
// db.GlobFunction (PostgreSQL), the names of present, hashed files that
// match d.Name are found first, through the pattern's literal hint and then
// exactly in Go, and the queries select the files by those names.
func (f *Files) withNames(ctx context.Context, filter dto.DupeFilter) (dupeFilter, error) {
	d := dupeFilter{DupeFilter: filter}
	if d.Name == "" || db.DialectOf(f.x).HasGlob() {
		return d, nil
	}
	m, err := match.Glob(d.Name, false)
	if err != nil {
		return d, err
	}
	h := m.Hint()
	q := "SELECT DISTINCT name FROM files WHERE sha256 IS NOT NULL AND operation <> 'DEL'"
	var args []any
	if c, arg := likeCond(db.DialectOf(f.x), dto.Like{Parts: h.Parts, Prefix: h.Prefix, Suffix: h.Suffix, Lower: h.Lower}, "name"); c != "" {
		q, args = q+" AND "+c, append(args, arg)
	}
	rows, err := f.x.QueryContext(ctx, f.x.Rebind(q), args...)
	if err != nil {
		return d, fmt.Errorf("list names matching %q: %w", d.Name, err)
	}
	defer rows.Close()
	d.names = [][]byte{}
	for rows.Next() {
		var name []byte
		if err := rows.Scan(&name); err != nil {
			return d, err
		}
		if m.Match(string(name)) {
			d.names = append(d.names, name)
		}
	}
	return d, rows.Err()
}

// where returns the conditions on files aliased a, with their arguments.
func (d dupeFilter) where(a string) (string, []any) {
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
	switch {
	case d.names != nil:
		conds = append(conds, a+".name = ANY(?)")
		args = append(args, d.names)
	case d.Name != "":
		conds = append(conds, db.GlobFunction+"(?, "+a+".name) = 1")
		args = append(args, d.Name)
	}
	if len(d.Under) > 0 && d.UnderIsHost {
		under, uargs := underHostCond(a+".machine", a+".path", d.Under, d.UnderVolumes)
		conds = append(conds, under)
		args = append(args, uargs...)
	} else if len(d.Under) > 0 {
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
// (sha256, n, copies, size): the number of files, and an upper bound on the
// number of distinct copies.
//
// Copies are the files minus the extra names of one file: rows of one
// machine, device and inode, whatever their link count (hard links, and one
// file reached through a symlinked directory or a bind mount). Counting
// distinct inodes in every group costs more than the grouping itself, so
// this query subtracts only the extra names it finds cheaply, among files
// that had more than one link when scanned (the few rows of the partial
// index files_links). Its copies is exact for every group without other
// aliases; Dupes counts the rest exactly from the rows it reads anyway, and
// exactGroupsQuery does it in SQL.
func groupsQuery(d dupeFilter) (string, []any) {
	where, args := d.where("f")
	q := `SELECT g.sha256 AS sha256, g.n AS n, g.n - COALESCE(l.extra, 0) AS copies, g.size AS size
		FROM (SELECT f.sha256 AS sha256, COUNT(*) AS n, MAX(f.size) AS size FROM files f WHERE ` + where + `
			GROUP BY f.sha256 HAVING COUNT(*) >= 2) g
		LEFT JOIN (SELECT s.sha256 AS sha256, SUM(s.k - 1) AS extra
			FROM (SELECT f.sha256 AS sha256, COUNT(*) AS k FROM files f
				WHERE f.nlink > 1 AND f.inode <> 0 AND f.is_archived = 0 AND ` + where + `
				GROUP BY f.sha256, f.machine, f.device, f.inode HAVING COUNT(*) > 1) s
			GROUP BY s.sha256) l ON l.sha256 = g.sha256
		WHERE g.n - COALESCE(l.extra, 0) >= 2`
	return q, append(args, args...)
}

// exactGroupsQuery is groupsQuery with copies counted exactly: the rows of
// every group are grouped by machine, device and inode, whatever their link
// count. On a catalog of a million files this adds about as much again as
// the grouping costs, which is why Dupes does not use it.
func exactGroupsQuery(d dupeFilter) (string, []any) {
	where, args := d.where("f")
	q := `WITH g AS MATERIALIZED (SELECT f.sha256 AS sha256, COUNT(*) AS n, MAX(f.size) AS size
			FROM files f WHERE ` + where + ` GROUP BY f.sha256 HAVING COUNT(*) >= 2)
		SELECT sha256, n, copies, size FROM (
			SELECT g.sha256 AS sha256, g.n AS n, g.n - COALESCE(l.extra, 0) AS copies, g.size AS size
			FROM g LEFT JOIN (SELECT s.sha256 AS sha256, SUM(s.k - 1) AS extra
				FROM (SELECT f.sha256 AS sha256, COUNT(*) AS k FROM g CROSS JOIN files f
					WHERE f.sha256 = g.sha256 AND f.inode <> 0 AND f.is_archived = 0 AND ` + where + `
					GROUP BY f.sha256, f.machine, f.device, f.inode HAVING COUNT(*) > 1) s
				GROUP BY s.sha256) l ON l.sha256 = g.sha256) c
		WHERE copies >= 2`
	return q, append(args, args...)
}

// rowsDupesQuery is the Dupes statement that groups the rows themselves.
// binary is the dialect's BinaryCollation: files are ordered by machine
// bytewise, as a held listing orders them in Go.
func rowsDupesQuery(d dupeFilter, binary string) (string, []any) {
	groups, args := groupsQuery(d)
	where, wargs := d.where("f2")
	// Device and inode of plain files; 0 for archive entries (see markLinked).
	return `SELECT g.sha256, g.size, g.n, g.copies,
			f2.machine, f2.path, f2.archive_path,
			CASE WHEN f2.inode <> 0 AND f2.is_archived = 0 THEN f2.device ELSE 0 END,
			CASE WHEN f2.inode <> 0 AND f2.is_archived = 0 THEN f2.inode ELSE 0 END
		FROM (` + groups + `) g
		CROSS JOIN files f2
		WHERE f2.sha256 = g.sha256 AND ` + where + `
		ORDER BY (g.copies - 1) * g.size DESC, g.sha256, f2.path, f2.machine` + binary + `, f2.archive_path`, append(args, wargs...)
}

// dupeRow is one row of the Dupes statement, scanned by position.
type dupeRow struct {
	Size, Device, Inode        int64
	N, Copies                  int
	Machine, Path, ArchivePath string
}

// Dupes calls fn for every group of selected files with the same content
// and at least two distinct copies, largest reclaimable space ((copies-1) *
// size) first, ties by sha256, files within a group by path (then machine and
// archive path). Files of one machine, device and inode are one copy, shown
// as Linked. fn's error stops the listing and is returned.
//
// The groups' files are read in content order, from files_content alone,
// and held in a compact form to be sorted in Go (see heldDupes), up to
// dupesHeldBytes; a larger listing is sorted by the database (sortedDupes).
func (f *Files) Dupes(ctx context.Context, filter dto.DupeFilter, fn func(dto.DupeGroup) error) error {
	d, err := f.withNames(ctx, filter)
	if err != nil {
		return err
	}
	summary, err := f.summarized(ctx, d)
	if err != nil {
		return err
	}
	var h *heldDupes
	if summary {
		h, err = f.holdSummaryDupes(ctx, d)
	} else {
		h, err = f.holdRowsDupes(ctx, d)
	}
	if err != nil {
		return err
	}
	if h != nil {
		return h.list(fn)
	}
	return f.sortedDupes(ctx, d, summary, fn)
}

// rawDupesFiles is the number of files of a listing from which Dupes reads
// it through a raw connection (see db.OpenRaw): opening one (and parsing
// the schema again) costs about a millisecond, and each row read so saves
// about 1.3 µs: on a catalog of /usr/share, 2,765 files of duplicates,
// dupes --json took 19.7 ms of CPU instead of 22.2. A variable so that
// tests can read every listing so.
var rawDupesFiles int64 = 1000

// mayReadRaw reports whether f may read through raw connections: the unit
// of work allows them and the catalog's engine has them.
func (f *Files) mayReadRaw() bool {
	return f.raw != nil && db.DialectOf(f.x).HasRaw()
}

// lastEventQuery reads the id of the newest events row. Every transaction
// that changes rows writes one, last (uow's runTx, a migration, a restore
// or an import: see db.RecordEvent), under ids that only grow: two
// snapshots of a catalog that read the same id are one.
const lastEventQuery = "SELECT COALESCE(MAX(id), 0) FROM events"

// openRaw returns a raw connection for a listing of about files files:
// nil when the catalog has none, when the unit of work may not use them,
// when files is 0 (the caller's statement needs what raw connections lack,
// as indexer_glob for a name pattern), or when the listing is too short to
// repay opening one.
//
// The raw connection's snapshot must be the unit's: uow.Read promises one
// snapshot to all of its queries, and a caller reads beside the listing
// (the times of its files, the rows to dedupe). It begins later than the
// unit's transaction, so a write committed meanwhile would show in it
// alone; when the newest events row differs between the two, the
// connection is closed and nil returned, for the listing to be read
// through the unit's transaction.
func (f *Files) openRaw(ctx context.Context, files int64) (*db.RawConn, error) {
	if !f.mayReadRaw() || files <= 0 || files < rawDupesFiles {
		return nil, nil
	}
	var unit int64
	if err := f.x.QueryRowxContext(ctx, lastEventQuery).Scan(&unit); err != nil {
		return nil, fmt.Errorf("read the last change: %w", err)
	}
	c, err := f.raw.OpenRaw(ctx)
	if errors.Is(err, db.ErrNoRaw) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	raw, err := rawInt64(ctx, c, lastEventQuery)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("read the last change: %w", err)
	}
	if raw != unit {
		c.Close()
		return nil, nil
	}
	return c, nil
}

// rawInt64 returns the integer that q, a statement of one row and column,
// reads on c.
func rawInt64(ctx context.Context, c *db.RawConn, q string) (int64, error) {
	rows, err := c.Query(ctx, q)
	if err != nil {
		return 0, err
	}
	var n int64
	if rows.Next() {
		n = rows.Int64(0)
	} else if rows.Err() == nil {
		rows.Close()
		return 0, fmt.Errorf("%q read no row", q)
	}
	return n, rows.Close()
}

// holdSummaryDupes holds the listing of d, which the summary answers (see
// summarized): read through a raw connection when it is long and the
// catalog has them, else through the unit's transaction. It returns nil
// when the listing outgrows dupesHeldBytes.
func (f *Files) holdSummaryDupes(ctx context.Context, d dupeFilter) (*heldDupes, error) {
	t, err := f.summaryTotals(ctx, d)
	if err != nil {
		return nil, err
	}
	if !mayHold(int(t.Groups), int(t.Files)) {
		return nil, nil // it cannot fit: not read twice
	}
	q, args := summaryContentDupesQuery(d)
	// The raw connection reads the unit's snapshot (see openRaw), in which
	// the summary answers.
	return f.holdQuery(ctx, q, args, t.Files, false, d, int(t.Groups), int(t.Files))
}

// holdRowsDupes holds the listing of d, which the summary does not answer:
// groups found in the rows (contentDupesQuery). It reads through a raw
// connection when the catalog has them and d names no pattern (which needs
// a function only the pools have), the catalog's duplicates being many
// enough to make the listing likely long; else through the unit's
// transaction. It returns nil when the listing outgrows dupesHeldBytes.
func (f *Files) holdRowsDupes(ctx context.Context, d dupeFilter) (*heldDupes, error) {
	q, args := contentDupesQuery(d)
	var long int64 // how long the listing may be, for openRaw; 0: not read raw
	if d.Name == "" && f.mayReadRaw() {
		// The duplicates of the whole catalog, from the summary: a bound
		// (when it is current) that the listing of a machine or a subtree
		// is a part of; while a scan has it set aside, what it held then.
		// Only whether to read raw depends on it: not a size to make room
		// for, as growing past it copied more than it saved.
		t, err := f.summaryTotals(ctx, dupeFilter{DupeFilter: dto.DupeFilter{MinSize: d.MinSize, MaxSize: d.MaxSize}})
		if err != nil {
			return nil, err
		}
		long = t.Files
	}
	return f.holdQuery(ctx, q, args, long, true, d, 0, 0)
}

// holdQuery runs q, a listing in content order, and holds its rows (see
// holdDupes, which groups and files size): through a raw connection when
// openRaw gives one for a listing of about long files, else through the
// unit's transaction. withArchive: q reads the archive path too.
func (f *Files) holdQuery(ctx context.Context, q string, args []any, long int64, withArchive bool, d dupeFilter, groups, files int) (*heldDupes, error) {
	c, err := f.openRaw(ctx, long)
	if err != nil {
		return nil, err
	}
	if c != nil {
		defer c.Close()
		rows, err := c.Query(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("list duplicates: %w", err)
		}
		return holdDupes(rawDupeRows{RawRows: rows, withArchive: withArchive}, dupesHeldBytes, d.Where, groups, files)
	}
	rows, err := f.x.QueryContext(ctx, f.x.Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("list duplicates: %w", err)
	}
	return holdDupes(&sqlDupeRows{Rows: rows, withArchive: withArchive}, dupesHeldBytes, d.Where, groups, files)
}

// contentDupesQuery is the statement of Dupes that finds the groups in the
// rows: the files of each content that at least two selected files hold,
// in content order, as holdDupes reads them. Device and inode are those of
// plain files, 0 for archive entries (see markLinked). The groups' copies
// are counted from the rows: a group of one file under several names is
// read and dropped, which is rare enough to cost nothing.
func contentDupesQuery(d dupeFilter) (string, []any) {
	where, args := d.where("f")
	where2, args2 := d.where("f2")
	return `SELECT f2.sha256, f2.size, f2.machine, f2.path, f2.archive_path,
			CASE WHEN f2.inode <> 0 AND f2.is_archived = 0 THEN f2.device ELSE 0 END,
			CASE WHEN f2.inode <> 0 AND f2.is_archived = 0 THEN f2.inode ELSE 0 END
		FROM (SELECT f.sha256 AS sha256 FROM files f WHERE ` + where + `
			GROUP BY f.sha256 HAVING COUNT(*) >= 2) g
		CROSS JOIN files f2
		WHERE f2.sha256 = g.sha256 AND ` + where2 + `
		ORDER BY g.sha256`, append(args, args2...)
}

// sortedDupes is Dupes with the rows sorted by the database, for a listing
// too large to hold.
//
// It is one statement: the groups come from one pass over files_content in
// content order (or from contents), their files from the same index,
// adjacent, and the database sorts the rows, spilling to temporary files
// when they outgrow its memory.
// The statement orders groups by groupsQuery's copies, an upper bound; the
// copies counted here from the rows can only be fewer, and then the group
// belongs later in the listing: it is held until the listing gets there.
// Only those groups and the group being read are held, so memory does not
// grow with the catalog unless most of it was scanned twice under two
// names.
func (f *Files) sortedDupes(ctx context.Context, d dupeFilter, summary bool, fn func(dto.DupeGroup) error) error {
	binary := db.DialectOf(f.x).BinaryCollation()
	q, args := rowsDupesQuery(d, binary)
	if summary {
		q, args = summaryDupesQuery(d, binary)
	}
	// A listing that outgrew dupesHeldBytes is long: the most files its
	// records alone could be (its names left out), as openRaw's bound. Not
	// raw with a name pattern: raw connections have no indexer_glob.
	var long int64
	if d.Name == "" {
		long = int64(dupesHeldBytes / heldFileSize)
	}
	rows, err := f.sortedRows(ctx, q, args, long)
	if err != nil {
		return err
	}
	defer rows.Close()
	var g dto.DupeGroup
	var cur []byte
	var r dupeRow
	var later laterGroups
	emit := func() error {
		if len(g.Files) == 0 {
			return nil
		}
		copies := markLinked(g.Files)
		if d.Where != nil && hasVolumeFile(g.Files) {
			copies = markVolumeLinks(g.Files, d.Where)
		}
		switch {
		case copies < 2:
			return nil // one file under several names: nothing to reclaim
		case copies < g.Copies:
			g.Copies, g.Reclaimable = copies, int64(copies-1)*g.Size
			heap.Push(&later, g)
			return nil
		}
		for len(later) > 0 && later.before(0, &g) {
			if err := fn(heap.Pop(&later).(dto.DupeGroup)); err != nil {
				return err
			}
		}
		return fn(g)
	}
	for rows.Next() {
		sum, machine, err := rows.sorted(&r)
		if err != nil {
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
	if err := emit(); err != nil {
		return err
	}
	for len(later) > 0 {
		if err := fn(heap.Pop(&later).(dto.DupeGroup)); err != nil {
			return err
		}
	}
	return nil
}

// sortedRows are the rows of sortedDupes' statement: (sha256, size, n,
// copies, machine, path, archive path, device, inode).
type sortedRows interface {
	Next() bool
	// sorted reads the row's numbers and names into r, and returns its
	// sha256 and machine, valid until the next call of Next.
	sorted(r *dupeRow) (sum, machine []byte, err error)
	Err() error
	Close() error
}

// sortedRows runs q, sortedDupes' statement for a listing of about long
// files, through a raw connection when the catalog has them (see openRaw):
// a listing too large to hold has millions of rows, each read so about
// 1.3 µs sooner, and the raw connection's sort has worker threads
// (db.OpenRaw). Else through the unit's transaction.
func (f *Files) sortedRows(ctx context.Context, q string, args []any, long int64) (sortedRows, error) {
	c, err := f.openRaw(ctx, long)
	if err != nil {
		return nil, err
	}
	if c != nil {
		rows, err := c.Query(ctx, q, args...)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("list duplicates: %w", err)
		}
		return rawSortedRows{rows, c}, nil
	}
	rows, err := f.x.QueryContext(ctx, f.x.Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("list duplicates: %w", err)
	}
	return &sqlSortedRows{Rows: rows}, nil
}

// sqlSortedRows are sortedRows through database/sql.
type sqlSortedRows struct {
	*sql.Rows
	sum, machine sql.RawBytes
}

func (s *sqlSortedRows) sorted(r *dupeRow) ([]byte, []byte, error) {
	err := s.Scan(&s.sum, &r.Size, &r.N, &r.Copies, &s.machine, &r.Path, &r.ArchivePath, &r.Device, &r.Inode)
	return s.sum, s.machine, err
}

// rawSortedRows are sortedRows on a raw connection, which Close closes.
type rawSortedRows struct {
	*db.RawRows
	c *db.RawConn
}

func (s rawSortedRows) sorted(r *dupeRow) ([]byte, []byte, error) {
	r.Size, r.N, r.Copies = s.Int64(1), int(s.Int64(2)), int(s.Int64(3))
	r.Path, r.ArchivePath = string(s.Bytes(5)), string(s.Bytes(6))
	r.Device, r.Inode = s.Int64(7), s.Int64(8)
	return s.Bytes(0), s.Bytes(4), nil
}

func (s rawSortedRows) Close() error {
	err := s.RawRows.Close()
	if cerr := s.c.Close(); err == nil {
		err = cerr
	}
	return err
}

// laterGroups is a heap of groups held back by Dupes, in listing order.
type laterGroups []dto.DupeGroup

// before reports whether held group i is listed before g: more reclaimable
// space, or as much and a smaller sha256 (hex sorts as the raw bytes do).
func (h laterGroups) before(i int, g *dto.DupeGroup) bool {
	if h[i].Reclaimable != g.Reclaimable {
		return h[i].Reclaimable > g.Reclaimable
	}
	return h[i].SHA256 < g.SHA256
}

func (h laterGroups) Len() int           { return len(h) }
func (h laterGroups) Less(i, j int) bool { return h.before(i, &h[j]) }
func (h laterGroups) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *laterGroups) Push(x any)        { *h = append(*h, x.(dto.DupeGroup)) }
func (h *laterGroups) Pop() any {
	old := *h
	g := old[len(old)-1]
	*h = old[:len(old)-1]
	return g
}

// markLinked sets Linked on files that share machine, device and inode with
// another file of the group, and returns the number of distinct copies: the
// files, each set of names of one inode counted once. Such names are hard
// links, or one file reached by two paths (a symlinked directory, a bind
// mount); either way they are one copy on disk. Device and Inode are 0 for
// archive entries, each its own copy.
func markLinked(fs []dto.DupeFile) int {
	type key struct {
		machine       string
		device, inode uint64
	}
	copies := len(fs)
	// Most groups are a few files: comparing each pair costs less than a map.
	if len(fs) <= 16 {
		for i := range fs {
			if fs[i].Inode == 0 {
				continue
			}
			extra := false
			for j := range i {
				if fs[j].Inode == fs[i].Inode && fs[j].Device == fs[i].Device && fs[j].Machine == fs[i].Machine {
					fs[i].Linked, fs[j].Linked = true, true
					extra = true
				}
			}
			if extra {
				copies--
			}
		}
		return copies
	}
	n := make(map[key]int)
	for _, f := range fs {
		if f.Inode != 0 {
			n[key{f.Machine, f.Device, f.Inode}]++
		}
	}
	for i, f := range fs {
		if k := n[key{f.Machine, f.Device, f.Inode}]; f.Inode != 0 && k > 1 {
			fs[i].Linked = true
		}
	}
	for _, c := range n {
		copies -= c - 1
	}
	return copies
}

// hasVolumeFile reports whether one of fs is a volume's file.
func hasVolumeFile(fs []dto.DupeFile) bool {
	for _, f := range fs {
		if dto.IsVolumeMachine(f.Machine) {
			return true
		}
	}
	return false
}

// markVolumeLinks counts the copies of a group that holds files of volumes,
// as markLinked does, and also makes one copy of a mounted volume's file
// and the files of other machines that name it: the same absolute path
// (and archive path) as the volume's file has now, or, for a plain file,
// the same device and inode as found there now. Such rows arise when a
// drive was scanned both as a volume and by its absolute path (an older
// version, --no-volume, a walk from a parent directory). It sets Linked on
// every file of a copy with several names, and returns the copies.
func markVolumeLinks(fs []dto.DupeFile, where func(machine, path string) (string, uint64, uint64, bool)) int {
	parent := make([]int, len(fs))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	union := func(i, j int) { parent[find(i)] = find(j) }
	type idKey struct {
		machine       string
		device, inode uint64
	}
	type placeKey struct{ path, archivePath string }
	type devIno struct{ device, inode uint64 }
	byID := map[idKey]int{}
	byPlace := map[placeKey][]int{}
	byDevIno := map[devIno][]int{}
	for i, f := range fs {
		if f.Inode != 0 {
			k := idKey{f.Machine, f.Device, f.Inode}
			if j, ok := byID[k]; ok {
				union(i, j)
			} else {
				byID[k] = i
			}
		}
		if dto.IsVolumeMachine(f.Machine) {
			continue
		}
		byPlace[placeKey{f.Path, f.ArchivePath}] = append(byPlace[placeKey{f.Path, f.ArchivePath}], i)
		if f.Inode != 0 && f.ArchivePath == "" {
			byDevIno[devIno{f.Device, f.Inode}] = append(byDevIno[devIno{f.Device, f.Inode}], i)
		}
	}
	for i, f := range fs {
		if !dto.IsVolumeMachine(f.Machine) {
			continue
		}
		abs, dev, ino, ok := where(f.Machine, f.Path)
		if !ok {
			continue
		}
		for _, j := range byPlace[placeKey{abs, f.ArchivePath}] {
			union(i, j)
		}
		if ino != 0 && f.ArchivePath == "" {
			for _, j := range byDevIno[devIno{dev, ino}] {
				union(i, j)
			}
		}
	}
	size := map[int]int{}
	for i := range fs {
		size[find(i)]++
	}
	for i := range fs {
		fs[i].Linked = size[find(i)] > 1
	}
	return len(size)
}

// DupeTotals returns the totals of what Dupes would list with d.
func (f *Files) DupeTotals(ctx context.Context, filter dto.DupeFilter) (dto.DupeTotals, error) {
	d, err := f.withNames(ctx, filter)
	if err != nil {
		return dto.DupeTotals{}, err
	}
	q, args := exactGroupsQuery(d)
	q = `SELECT COUNT(*) AS groups_total, COALESCE(SUM(n), 0) AS files_total,
		COALESCE(SUM((copies - 1) * size), 0) AS reclaimable_total FROM (` + q + `) t`
	if ok, err := f.summarized(ctx, d); err != nil {
		return dto.DupeTotals{}, err
	} else if ok {
		return f.summaryTotals(ctx, d)
	}
	return f.totals(ctx, q, args)
}

// summaryTotals is DupeTotals when the summary answers d: for the filter
// content_totals keeps, its sums (one row), else a pass over the groups of
// contents_dupes (15,000 of the small corpus: 10 ms, a tenth of its dupes
// --json).
func (f *Files) summaryTotals(ctx context.Context, d dupeFilter) (dto.DupeTotals, error) {
	if totalsFilter(d) {
		t, err := f.contentTotals(ctx)
		return dto.DupeTotals{Groups: t.Groups, Files: t.Files, Reclaimable: t.Reclaimable}, err
	}
	q, args := summaryTotalsQuery(d)
	return f.totals(ctx, q, args)
}

// totals runs q, a DupeTotals statement.
func (f *Files) totals(ctx context.Context, q string, args []any) (dto.DupeTotals, error) {
	var t struct {
		Groups      int64 `db:"groups_total"`
		Files       int64 `db:"files_total"`
		Reclaimable int64 `db:"reclaimable_total"`
	}
	err := sqlx.GetContext(ctx, f.x, &t, f.x.Rebind(q), args...)
	if err != nil {
		return dto.DupeTotals{}, fmt.Errorf("count duplicates: %w", err)
	}
	return dto.DupeTotals(t), nil
}

// Place names one file or archive entry of the catalog.
type Place struct{ Machine, Path, ArchivePath string }

// ModifiedOf returns the modification times of the present files and
// archive entries that hold the contents named by sha256s (hex), by place.
// It reads the rows of those contents only: what a page of duplicate groups
// needs, which Dupes leaves out to stay on its covering index.
func (f *Files) ModifiedOf(ctx context.Context, sha256s []string) (map[Place]time.Time, error) {
	out := make(map[Place]time.Time)
	const chunk = 500 // bound parameters per statement, well below both engines' limits
	for len(sha256s) > 0 {
		n := min(chunk, len(sha256s))
		args := make([]any, n)
		for i, h := range sha256s[:n] {
			raw, err := hex.DecodeString(h)
			if err != nil || len(raw) != 32 {
				return nil, fmt.Errorf("sha256 %q is not 32 bytes of hexadecimal", h)
			}
			args[i] = raw
		}
		sha256s = sha256s[n:]
		rows, err := f.x.QueryContext(ctx, f.x.Rebind(`SELECT machine, path, archive_path, modified_sec, modified_nsec
			FROM files WHERE sha256 IN (?`+strings.Repeat(", ?", n-1)+`) AND operation <> 'DEL'`), args...)
		if err != nil {
			return nil, fmt.Errorf("read the times of duplicates: %w", err)
		}
		for rows.Next() {
			var l Place
			var sec, nsec int64
			if err := rows.Scan(&l.Machine, &l.Path, &l.ArchivePath, &sec, &nsec); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read the times of duplicates: %w", err)
			}
			out[l] = time.Unix(sec, nsec)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read the times of duplicates: %w", err)
		}
	}
	return out, nil
}
