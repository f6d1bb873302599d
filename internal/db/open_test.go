package db_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dbtest"
)

// rawOpen opens path with the bare driver, bypassing package db, to build or
// inspect files the way another program would.
func rawOpen(t *testing.T, path string) *sql.DB {
	t.Helper()
	x, err := sql.Open(db.DriverName, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	return x
}

func rawExec(t *testing.T, path string, stmts ...string) {
	t.Helper()
	x := rawOpen(t, path)
	for _, s := range stmts {
		if _, err := x.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
}

// oneFile inserts one row into a catalog.
const oneFile = "INSERT INTO files (machine, path, name, size, modified_sec, scanned, operation) VALUES ('m', '/a', 'a', 1, 1, 1, 'ADD')"

// tables returns the names of the ordinary tables in the catalog.
func tables(t *testing.T, d *db.DB) []string {
	t.Helper()
	var names []string
	err := d.WithRead(func(r *sqlx.DB) error {
		return r.Select(&names, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

type migrationRow struct {
	Version   int    `db:"version"`
	Name      string `db:"name"`
	AppliedAt int64  `db:"applied_at"`
}

func migrationRows(t *testing.T, d *db.DB) []migrationRow {
	t.Helper()
	var rows []migrationRow
	err := d.WithRead(func(r *sqlx.DB) error {
		return r.Select(&rows, "SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
	})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestOpenMigratesEmptyCatalog(t *testing.T) {
	d := dbtest.MustOpen(t)

	got := tables(t, d)
	for _, want := range []string{"deferred_indexes", "files", "scans", "schema_migrations"} {
		if !slices.Contains(got, want) {
			t.Errorf("tables = %v; want %s among them", got, want)
		}
	}
	// 0004 moved the digests into files and dropped hashes.
	if slices.Contains(got, "hashes") {
		t.Errorf("tables = %v; want no hashes table", got)
	}
	v, err := d.Version(t.Context())
	if err != nil || v != db.LatestVersion() {
		t.Fatalf("Version() = %d, %v; want %d", v, err, db.LatestVersion())
	}
	rows := migrationRows(t, d)
	if len(rows) != db.LatestVersion() {
		t.Fatalf("schema_migrations has %d rows; want %d", len(rows), db.LatestVersion())
	}
	for i, r := range rows {
		if r.Version != i+1 || r.Name == "" || r.AppliedAt == 0 {
			t.Errorf("schema_migrations row %d = %+v; want version %d with a name and a time", i, r, i+1)
		}
	}
}

// TestSchemaIndexes checks the indexes the issue asks for: duplicate grouping
// by content (sha256), lookup by each digest, name search, path-prefix
// queries, and the unique key.
func TestSchemaIndexes(t *testing.T) {
	d := dbtest.MustOpen(t)
	tests := []struct {
		table  string
		lead   string // the index's first column
		unique bool
	}{
		{"files", "sha256", false},
		{"files", "md5", false},
		{"files", "sha1", false},
		{"files", "name", false},
		{"files", "path", false},
		{"files", "machine", true}, // UNIQUE (machine, path, archive_path)
	}
	for _, tt := range tests {
		found := false
		err := d.WithRead(func(r *sqlx.DB) error {
			var idx []struct {
				Name   string `db:"name"`
				Unique bool   `db:"unique"`
			}
			if err := r.Select(&idx, "SELECT name, \"unique\" FROM pragma_index_list(?)", tt.table); err != nil {
				return err
			}
			for _, ix := range idx {
				var first string
				if err := r.Get(&first, "SELECT name FROM pragma_index_info(?) WHERE seqno = 0", ix.Name); err != nil {
					return err
				}
				if first == tt.lead && (ix.Unique || !tt.unique) {
					found = true
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !found {
			t.Errorf("no index on %s led by %s (unique %v)", tt.table, tt.lead, tt.unique)
		}
	}
}

func TestUniqueKeyIncludesArchivePathNotNull(t *testing.T) {
	d := dbtest.MustOpen(t)
	// Two plain files at one path must collide: archive_path is '' and never
	// NULL, because NULLs never collide in a UNIQUE index.
	err := d.WithWrite(func(w *sqlx.DB) error {
		const ins = "INSERT INTO files (machine, path, name, size, modified_sec, scanned, operation) VALUES ('m', '/a', 'a', 1, 1, 1, 'ADD')"
		if _, err := w.Exec(ins); err != nil {
			return err
		}
		_, err := w.Exec(ins)
		return err
	})
	if got := db.Code(err); got != sqlite3.SQLITE_CONSTRAINT {
		t.Fatalf("second plain file at the same path: code %d (%v); want SQLITE_CONSTRAINT", got, err)
	}
}

func TestReopenIsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	ctx := t.Context()

	d, err := db.Open(ctx, path, db.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	before := migrationRows(t, d)
	if err := d.WithWrite(func(w *sqlx.DB) error {
		_, err := w.Exec(oneFile)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	for i := range 2 {
		d := dbtest.MustOpenPath(t, path)
		if v, err := d.Version(ctx); err != nil || v != db.LatestVersion() {
			t.Fatalf("reopen %d: Version() = %d, %v; want %d", i, v, err, db.LatestVersion())
		}
		if got := migrationRows(t, d); !slices.Equal(got, before) {
			t.Fatalf("reopen %d: schema_migrations = %+v; want it unchanged: %+v", i, got, before)
		}
		var n int
		if err := d.WithRead(func(r *sqlx.DB) error { return r.Get(&n, "SELECT COUNT(*) FROM files") }); err != nil || n != 1 {
			t.Fatalf("reopen %d: %d files, %v; want the 1 written before", i, n, err)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOpenRefuses covers the files Open must not take for a catalog.
func TestOpenRefuses(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, path string)
		wantErr error  // matched with errors.Is; nil when only wantMsg is checked
		wantMsg string // part of the message
		// untouched checks that the foreign file was left as it was.
		untouched func(t *testing.T, path string)
	}{
		{
			name: "schema newer than this binary",
			setup: func(t *testing.T, path string) {
				d, err := db.Open(t.Context(), path, db.DefaultOptions())
				if err != nil {
					t.Fatal(err)
				}
				d.Close()
				rawExec(t, path, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ("+
					strconv.Itoa(db.LatestVersion()+1)+", '9999_future.sql', 1)")
			},
			wantErr: db.ErrSchemaTooNew,
			wantMsg: "upgrade indexer",
		},
		{
			name: "another program's database",
			setup: func(t *testing.T, path string) {
				rawExec(t, path, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)", "INSERT INTO notes (body) VALUES ('keep me')")
			},
			wantErr: db.ErrNotCatalog,
			untouched: func(t *testing.T, path string) {
				var n int
				x := rawOpen(t, path)
				if err := x.QueryRow("SELECT COUNT(*) FROM sqlite_master WHERE name = 'schema_migrations'").Scan(&n); err != nil || n != 0 {
					t.Errorf("schema_migrations tables left in the foreign database: %d, %v; want 0", n, err)
				}
			},
		},
		{
			name: "text file",
			setup: func(t *testing.T, path string) {
				writeFile(t, path, []byte(strings.Repeat("this is not a database\n", 400)))
			},
			wantErr: db.ErrNotDatabase,
		},
		{
			name: "short binary file",
			setup: func(t *testing.T, path string) {
				writeFile(t, path, []byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0})
			},
			wantErr: db.ErrNotDatabase,
		},
		{
			name: "directory",
			setup: func(t *testing.T, path string) {
				if err := os.Mkdir(path, 0o755); err != nil {
					t.Fatal(err)
				}
			},
			wantMsg: "is a directory",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "index.db")
			tt.setup(t, path)
			before := readFileOrDir(t, path)
			// MustExist with OnlyReads is a query's open, which tries one
			// statement on a read connection first (openReads).
			for _, how := range []struct{ mustExist, onlyReads bool }{{false, false}, {true, false}, {true, true}} {
				opts := db.DefaultOptions()
				opts.MustExist, opts.OnlyReads = how.mustExist, how.onlyReads
				d, err := db.Open(t.Context(), path, opts)
				if err == nil {
					d.Close()
					t.Fatalf("Open(%+v) succeeded; want an error", how)
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Errorf("Open(%+v) = %v; want %v", how, err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("Open(%+v) = %q; want it to say %q", how, err, tt.wantMsg)
				}
			}
			if tt.untouched != nil {
				tt.untouched(t, path)
			}
			if after := readFileOrDir(t, path); after != before {
				t.Errorf("Open changed the file it refused")
			}
		})
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// readFileOrDir returns a file's content, or "dir" for a directory.
func readFileOrDir(t *testing.T, path string) string {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.IsDir() {
		return "dir"
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestOpenMustExistCreatesNothing(t *testing.T) {
	tests := []struct {
		name string
		rel  string
	}{
		{"missing file", "index.db"},
		{"missing directory", "sub/dir/index.db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			opts := db.DefaultOptions()
			opts.MustExist = true
			d, err := db.Open(t.Context(), filepath.Join(root, tt.rel), opts)
			if err == nil {
				d.Close()
			}
			if !errors.Is(err, db.ErrNotExist) {
				t.Errorf("Open = %v; want ErrNotExist", err)
			}
			if got := dbtest.ListTree(t, root); !slices.Equal(got, []string{"."}) {
				t.Errorf("Open created %v; want nothing", got)
			}
		})
	}
}

func TestOpenCreatesDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "index.db")
	d := dbtest.MustOpenPath(t, path)
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("catalog file: %v, %v", fi, err)
	}
	if d.Path() != path {
		t.Errorf("Path() = %q; want %q", d.Path(), path)
	}
}

// TestOpenOddPath checks that the file: URI escapes the path: '?', '#', '%'
// and spaces are part of the name, not URI syntax.
func TestOpenOddPath(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "my cat?alog#1%20.db")
	d := dbtest.MustOpenPath(t, path)
	if err := d.WithWrite(func(w *sqlx.DB) error {
		_, err := w.Exec(oneFile)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Size() == 0 {
		t.Fatalf("catalog at the literal path: %v, %v", fi, err)
	}
	var names []string
	for _, n := range dbtest.ListTree(t, dir) {
		if !strings.HasPrefix(n, "my cat?alog#1%20.db") && n != "." {
			names = append(names, n)
		}
	}
	if len(names) > 0 {
		t.Errorf("files other than the catalog's: %v", names)
	}
}

func TestPoolPragmas(t *testing.T) {
	opts := db.DefaultOptions()
	opts.BusyTimeout = 1234 * time.Millisecond
	d := dbtest.MustOpenOptions(t, filepath.Join(t.TempDir(), "index.db"), opts)

	pools := []struct {
		name string
		with func(func(*sqlx.DB) error) error
		// queryOnly is the read pool's guard against writes.
		queryOnly string
	}{
		{"write", d.WithWrite, "0"},
		{"read", d.WithRead, "1"},
	}
	for _, p := range pools {
		want := map[string]string{
			"journal_mode": "wal",
			"busy_timeout": "1234",
			"query_only":   p.queryOnly,
		}
		if p.name == "write" {
			// The settings of writes; a read connection, which cannot write,
			// runs no statement to set them.
			want["foreign_keys"] = "1"
			want["synchronous"] = "1" // NORMAL
		}
		for pragma, w := range want {
			var got string
			if err := p.with(func(x *sqlx.DB) error { return x.Get(&got, "PRAGMA "+pragma) }); err != nil {
				t.Fatal(err)
			}
			if got != w {
				t.Errorf("%s pool: PRAGMA %s = %q; want %q", p.name, pragma, got, w)
			}
		}
	}
	if got, err := d.JournalMode(t.Context()); err != nil || got != "wal" {
		t.Errorf("JournalMode() = %q, %v; want wal", got, err)
	}
	s := d.Stats()
	if s.Write.MaxOpenConnections != 1 {
		t.Errorf("write pool max open = %d; want 1", s.Write.MaxOpenConnections)
	}
	if s.Read.MaxOpenConnections != opts.ReadConns {
		t.Errorf("read pool max open = %d; want %d", s.Read.MaxOpenConnections, opts.ReadConns)
	}
}

func TestReadPoolRefusesWrites(t *testing.T) {
	d := dbtest.MustOpen(t)
	err := d.WithRead(func(r *sqlx.DB) error {
		_, err := r.Exec(oneFile)
		return err
	})
	if got := db.Code(err); got != sqlite3.SQLITE_READONLY {
		t.Errorf("insert on the read pool: code %d (%v); want SQLITE_READONLY", got, err)
	}
	var n int
	if err := d.WithWrite(func(w *sqlx.DB) error { return w.Get(&n, "SELECT COUNT(*) FROM files") }); err != nil || n != 0 {
		t.Errorf("files after the refused insert: %d, %v; want 0", n, err)
	}
}

// TestWriteTxIsImmediate checks _txlock=immediate: a transaction on the write
// pool holds the write lock from BEGIN, so another connection cannot start
// writing, instead of both starting and one failing later at its first write.
func TestWriteTxIsImmediate(t *testing.T) {
	d := dbtest.MustOpen(t)
	other := rawOpen(t, "file:"+d.Path()+"?_pragma=busy_timeout(0)")
	err := d.WithWrite(func(w *sqlx.DB) error {
		tx, err := w.Beginx()
		if err != nil {
			return err
		}
		defer tx.Rollback()
		_, err = other.Exec("BEGIN IMMEDIATE")
		if err == nil {
			other.Exec("ROLLBACK")
		}
		return err
	})
	if !db.IsBusy(err) {
		t.Errorf("BEGIN IMMEDIATE beside an open write transaction = %v; want SQLITE_BUSY", err)
	}
}

func TestCloseTwiceAndUseAfterClose(t *testing.T) {
	d, err := db.Open(t.Context(), filepath.Join(t.TempDir(), "index.db"), db.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close = %v; want nil", err)
	}
	for name, with := range map[string]func(func(*sqlx.DB) error) error{"WithWrite": d.WithWrite, "WithRead": d.WithRead} {
		if err := with(func(*sqlx.DB) error { return nil }); !errors.Is(err, db.ErrClosed) {
			t.Errorf("%s after Close = %v; want ErrClosed", name, err)
		}
	}
	if err := d.Replace(t.Context(), false, func(string) error { return nil }); !errors.Is(err, db.ErrClosed) {
		t.Errorf("Replace after Close = %v; want ErrClosed", err)
	}
}

// checkNewCatalog checks that the catalog at path was migrated exactly once.
func checkNewCatalog(t *testing.T, path string) {
	t.Helper()
	d := dbtest.MustOpenPath(t, path)
	if rows := migrationRows(t, d); len(rows) != db.LatestVersion() {
		t.Errorf("schema_migrations = %+v; want %d rows", rows, db.LatestVersion())
	}
}

func TestConcurrentOpenOfNewCatalog(t *testing.T) {
	t.Run("goroutines", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "new", "index.db")
		const n = 6
		start := make(chan struct{})
		errs := make([]error, n)
		dbs := make([]*db.DB, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				dbs[i], errs[i] = db.Open(context.Background(), path, db.DefaultOptions())
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Open #%d: %v", i, err)
				continue
			}
			if err := dbs[i].Close(); err != nil {
				t.Errorf("Close #%d: %v", i, err)
			}
		}
		checkNewCatalog(t, path)
	})

	t.Run("processes", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "new", "index.db")
		goFile := filepath.Join(dir, "go")
		const n = 4
		cmds := make([]*exec.Cmd, n)
		outs := make([]*strings.Builder, n)
		for i := range cmds {
			cmds[i] = helperCmd(t, "open", path, helperGoEnv+"="+goFile)
			outs[i] = &strings.Builder{}
			cmds[i].Stderr = outs[i]
			if err := cmds[i].Start(); err != nil {
				t.Fatal(err)
			}
		}
		writeFile(t, goFile, nil)
		for i, c := range cmds {
			if err := c.Wait(); err != nil {
				t.Errorf("process %d: %v: %s", i, err, outs[i])
			}
		}
		checkNewCatalog(t, path)
	})
}

// TestOpenMustExistRefusesEmpty: with MustExist, a file that holds no catalog
// yet (empty, or an SQLite database without tables) is not made into one.
// Without it, it is.
func TestOpenMustExistRefusesEmpty(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, path string)
	}{
		{"empty file", func(t *testing.T, path string) { writeFile(t, path, nil) }},
		{"database without tables", func(t *testing.T, path string) {
			rawExec(t, path, "CREATE TABLE gone (x)", "DROP TABLE gone")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "index.db")
			tt.setup(t, path)
			before := readFileOrDir(t, path)

			opts := db.DefaultOptions()
			opts.MustExist = true
			d, err := db.Open(t.Context(), path, opts)
			if err == nil {
				d.Close()
			}
			if !errors.Is(err, db.ErrNotExist) {
				t.Errorf("Open(MustExist) = %v; want ErrNotExist", err)
			}
			if readFileOrDir(t, path) != before {
				t.Errorf("Open(MustExist) wrote to the file")
			}

			d = dbtest.MustOpenPath(t, path)
			if v, err := d.Version(t.Context()); err != nil || v != db.LatestVersion() {
				t.Errorf("Open without MustExist: version %d, %v; want a new catalog", v, err)
			}
		})
	}
}

// TestOnlyReadsOpensReadPoolAlone: a query's open of an up-to-date catalog
// (MustExist and OnlyReads) opens the read pool alone, checked by one
// statement; the write pool opens when something writes after all, with its
// settings. A catalog that is not plainly up to date goes the long way:
// left in another journal mode, it is switched back to WAL; at an older
// version, it is migrated.
func TestOnlyReadsOpensReadPoolAlone(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "index.db")
	d, err := db.Open(ctx, path, db.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := d.WithWrite(func(w *sqlx.DB) error { _, err := w.Exec(oneFile); return err }); err != nil {
		t.Fatal(err)
	}
	d.Close()

	opts := db.DefaultOptions()
	opts.MustExist, opts.OnlyReads = true, true
	open := func() *db.DB {
		t.Helper()
		d, err := db.Open(ctx, path, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	}
	d = open()
	if s := d.Stats(); s.Write.MaxOpenConnections != 0 || s.Read.OpenConnections != 1 {
		t.Fatalf("after a query's open: write pool max %d, read connections %d; want no write pool and the one read connection that checked the catalog",
			s.Write.MaxOpenConnections, s.Read.OpenConnections)
	}
	var n int
	if err := d.WithRead(func(r *sqlx.DB) error { return r.Get(&n, "SELECT COUNT(*) FROM files") }); err != nil || n != 1 {
		t.Fatalf("read: %d files, %v; want 1", n, err)
	}
	for pragma, want := range map[string]string{"journal_mode": "wal", "foreign_keys": "1", "synchronous": "1"} {
		var got string
		if err := d.WithWrite(func(w *sqlx.DB) error { return w.Get(&got, "PRAGMA "+pragma) }); err != nil || got != want {
			t.Errorf("write pool opened on first use: PRAGMA %s = %q, %v; want %q", pragma, got, err, want)
		}
	}
	if s := d.Stats(); s.Write.MaxOpenConnections != 1 {
		t.Errorf("after a write: write pool max %d; want 1", s.Write.MaxOpenConnections)
	}
	d.Close()

	rawExec(t, path, "PRAGMA journal_mode = DELETE")
	d = open()
	if mode, err := d.JournalMode(ctx); err != nil || mode != "wal" {
		t.Errorf("catalog left in DELETE mode, opened for reading: journal mode %q, %v; want wal", mode, err)
	}
	d.Close()

	rawExec(t, path, "DELETE FROM schema_migrations WHERE version = (SELECT MAX(version) FROM schema_migrations)")
	d, err = db.Open(ctx, path, opts)
	if err == nil {
		// The last migration runs again over its own tables: whether that
		// succeeds depends on the migration; what matters is that it ran.
		d.Close()
	}
	x := rawOpen(t, path)
	var v int
	if err := x.QueryRow("SELECT MAX(version) FROM schema_migrations").Scan(&v); err != nil {
		t.Fatal(err)
	}
	if err == nil && v != db.LatestVersion() {
		t.Errorf("older catalog opened for reading: version %d; want it migrated to %d", v, db.LatestVersion())
	}
}

// TestOnlyReadsWritePoolOpensOnce: writers racing to be the first on a
// catalog opened for reading share one write pool (run with -race).
func TestOnlyReadsWritePoolOpensOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	dbtest.MustOpenPath(t, path).Close()
	opts := db.DefaultOptions()
	opts.MustExist, opts.OnlyReads = true, true
	d := dbtest.MustOpenOptions(t, path, opts)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := d.WithWrite(func(w *sqlx.DB) error { _, err := w.Exec("DELETE FROM files WHERE 0"); return err }); err != nil {
				t.Error(err)
			}
			_ = d.Stats()
		})
	}
	wg.Wait()
	if s := d.Stats(); s.Write.MaxOpenConnections != 1 || s.Write.OpenConnections != 1 {
		t.Errorf("write pool: max %d, open %d; want one pool of one connection", s.Write.MaxOpenConnections, s.Write.OpenConnections)
	}
}
