package db_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/pgtest"
)

// schema describes a catalog's tables by name: each table's columns, with
// NOT NULL marked, its unique keys, and its other indexes.
func schema(t *testing.T, d *db.DB) []string {
	t.Helper()
	var out []string
	add := func(f string, args ...any) { out = append(out, fmt.Sprintf(f, args...)) }
	err := d.WithRead(func(x *sqlx.DB) error {
		ctx := t.Context()
		type col struct {
			Table, Name string
			NotNull     bool
		}
		var cols []col
		var uniques, indexes []string
		if d.Dialect().Shared {
			rows, err := x.QueryContext(ctx, `SELECT table_name, column_name, is_nullable = 'NO' FROM information_schema.columns
				WHERE table_schema = current_schema()`)
			if err != nil {
				return err
			}
			for rows.Next() {
				var c col
				if err := rows.Scan(&c.Table, &c.Name, &c.NotNull); err != nil {
					return err
				}
				cols = append(cols, c)
			}
			if err := x.SelectContext(ctx, &uniques, `SELECT cl.relname || '(' || string_agg(a.attname, ',' ORDER BY k.n) || ')'
				FROM pg_constraint c JOIN pg_class cl ON cl.oid = c.conrelid
				CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, n)
				JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
				WHERE c.contype IN ('u', 'p') AND cl.relnamespace = current_schema()::regnamespace
				GROUP BY cl.relname, c.conname`); err != nil {
				return err
			}
			if err := x.SelectContext(ctx, &indexes, `SELECT tablename || '.' || indexname FROM pg_indexes i
				WHERE schemaname = current_schema() AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)`); err != nil {
				return err
			}
		} else {
			rows, err := x.QueryContext(ctx, `SELECT m.name, c.name, c."notnull" OR c.pk FROM sqlite_master m, pragma_table_info(m.name) c
				WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'`)
			if err != nil {
				return err
			}
			for rows.Next() {
				var c col
				if err := rows.Scan(&c.Table, &c.Name, &c.NotNull); err != nil {
					return err
				}
				cols = append(cols, c)
			}
			if err := x.SelectContext(ctx, &uniques, `SELECT m.name || '(' || (SELECT group_concat(name, ',') FROM
					(SELECT ii.name FROM pragma_index_info(il.name) ii ORDER BY ii.seqno)) || ')'
				FROM sqlite_master m, pragma_index_list(m.name) il WHERE m.type = 'table' AND il.origin = 'u'
				UNION ALL SELECT m.name || '(' || c.name || ')' FROM sqlite_master m, pragma_table_info(m.name) c
				WHERE m.type = 'table' AND c.pk > 0 AND m.name NOT LIKE 'sqlite_%'`); err != nil {
				return err
			}
			if err := x.SelectContext(ctx, &indexes, `SELECT tbl_name || '.' || name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL`); err != nil {
				return err
			}
		}
		for _, c := range cols {
			add("column %s.%s not null %v", c.Table, c.Name, c.NotNull)
		}
		for _, u := range uniques {
			add("unique %s", u)
		}
		for _, i := range indexes {
			add("index %s", i)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// TestSchemasEquivalent opens a new catalog on each engine: the two have
// the same tables, the same columns (and which may be NULL), the same
// unique keys and the same indexes, by name, and the same version.
func TestSchemasEquivalent(t *testing.T) {
	lite, err := db.Open(t.Context(), filepath.Join(t.TempDir(), "index.db"), db.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	pg, err := db.Open(t.Context(), pgtest.URL(t), db.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	a, b := schema(t, lite), schema(t, pg)
	// PostgreSQL's own: the trigram index on names (SQLite's name searches
	// read its narrow name index).
	pgOnly := "index files." + db.NameTrigramIndex
	if !slices.Contains(b, pgOnly) {
		t.Errorf("PostgreSQL lacks %s", pgOnly)
	}
	b = slices.DeleteFunc(b, func(s string) bool { return s == pgOnly })
	for _, s := range a {
		if !slices.Contains(b, s) {
			t.Errorf("SQLite has, PostgreSQL lacks: %s", s)
		}
	}
	for _, s := range b {
		if !slices.Contains(a, s) {
			t.Errorf("PostgreSQL has, SQLite lacks: %s", s)
		}
	}
	if len(a) < 50 {
		t.Errorf("the schema description holds only %d lines: %v", len(a), a)
	}
	va, _ := lite.Version(t.Context())
	vb, _ := pg.Version(t.Context())
	if va != vb || va != db.LatestVersion() {
		t.Errorf("versions: SQLite %d, PostgreSQL %d, want both %d", va, vb, db.LatestVersion())
	}
}

// TestPostgresOpen opens a PostgreSQL catalog: eight processes' worth of
// handles at once migrate it once; a query (MustExist) refuses an empty
// database and creates nothing; a database of another program is refused;
// and the password never appears in Path or an error.
func TestPostgresOpen(t *testing.T) {
	u := pgtest.URL(t)
	opts := db.DefaultOptions()
	opts.MustExist, opts.OnlyReads = true, true
	if d, err := db.Open(t.Context(), u, opts); !errors.Is(err, db.ErrNotExist) {
		if d != nil {
			d.Close()
		}
		t.Fatalf("Open(MustExist) of an empty database: %v, want ErrNotExist", err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			d, err := db.Open(context.Background(), u, db.DefaultOptions())
			if err == nil {
				err = d.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Open: %v", err)
		}
	}
	d, err := db.Open(t.Context(), u, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var n int
	if err := d.WithRead(func(x *sqlx.DB) error {
		return x.GetContext(t.Context(), &n, "SELECT COUNT(*) FROM schema_migrations")
	}); err != nil || n != db.LatestVersion() {
		t.Errorf("schema_migrations holds %d rows (%v), want %d", n, err, db.LatestVersion())
	}

	other := pgtest.URL(t)
	x, err := sqlx.Open(db.PostgresDriverName, other)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if _, err := x.ExecContext(t.Context(), "CREATE TABLE accounts (id int)"); err != nil {
		t.Fatal(err)
	}
	if d, err := db.Open(t.Context(), other, db.DefaultOptions()); !errors.Is(err, db.ErrNotCatalog) {
		if d != nil {
			d.Close()
		}
		t.Errorf("Open of another program's database: %v, want ErrNotCatalog", err)
	}

	withPassword := strings.Replace(u, "postgres@", "postgres:hunter2@", 1)
	d2, err := db.Open(t.Context(), withPassword, db.DefaultOptions())
	if err != nil {
		t.Fatalf("open with a password the server does not ask for: %v", err)
	}
	defer d2.Close()
	if strings.Contains(d2.Path(), "hunter2") {
		t.Errorf("Path() = %q shows the password", d2.Path())
	}
	bad := strings.Replace(withPassword, "127.0.0.1:", "127.0.0.1:1", 1) + "&connect_timeout=1"
	if d, err := db.Open(t.Context(), bad, db.DefaultOptions()); err == nil || strings.Contains(err.Error(), "hunter2") {
		if d != nil {
			d.Close()
		}
		t.Errorf("Open of an unreachable server: %v; want an error without the password", err)
	}
}

// TestNameTrigramIndex: a name search on a shared catalog reads the trigram
// index on names, and a role that may not create the extension pg_trgm gets a
// catalog all the same, without the index, which health's ServerInfo
// reports; its name searches give the same answers by reading every name.
func TestNameTrigramIndex(t *testing.T) {
	const search = `SELECT name FROM files WHERE encode(name, 'escape') LIKE ? ESCAPE '\' ORDER BY name`
	insert := func(t *testing.T, d *db.DB) {
		t.Helper()
		err := d.WithWrite(func(w *sqlx.DB) error {
			for i, name := range []string{"report.txt", "old-report.TXT", "r\xe9port.txt", "other"} {
				if _, err := w.ExecContext(t.Context(), w.Rebind(`INSERT INTO files (machine, path, archive_path, name, size,
					modified_sec, modified_nsec, scanned, operation, is_archived) VALUES ('m', ?, '', ?, 0, 0, 0, 0, 'ADD', 0)`),
					[]byte(fmt.Sprintf("/d/%d", i)), []byte(name)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	find := func(t *testing.T, d *db.DB, pattern string) (names []string, plan string) {
		t.Helper()
		err := d.WithRead(func(r *sqlx.DB) error {
			var rows [][]byte
			if err := r.SelectContext(t.Context(), &rows, r.Rebind(search), pattern); err != nil {
				return err
			}
			for _, n := range rows {
				names = append(names, string(n))
			}
			// Few rows: make the planner show whether it could use an index.
			tx, err := r.BeginTxx(t.Context(), nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			if _, err := tx.ExecContext(t.Context(), "SET LOCAL enable_seqscan = off"); err != nil {
				return err
			}
			var lines []string
			if err := tx.SelectContext(t.Context(), &lines, "EXPLAIN "+tx.Rebind(search), pattern); err != nil {
				return err
			}
			plan = strings.Join(lines, "\n")
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return names, plan
	}

	t.Run("owner", func(t *testing.T) {
		d, err := db.Open(t.Context(), pgtest.URL(t), db.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		insert(t, d)
		names, plan := find(t, d, "%port.t%")
		if want := []string{"report.txt", "r\xe9port.txt"}; !slices.Equal(names, want) {
			t.Errorf("names %q, want %q", names, want)
		}
		if !strings.Contains(plan, db.NameTrigramIndex) {
			t.Errorf("the name search does not use %s:\n%s", db.NameTrigramIndex, plan)
		}
		s, err := d.ServerInfo(t.Context())
		if err != nil || !s.NameTrigrams {
			t.Errorf("ServerInfo: %+v, %v: want the trigram index reported", s, err)
		}
	})

	// A catalog of version 11 (later migrations are undone with it) gets the index from its upgrade, or keeps the
	// one an administrator built beforehand (CREATE INDEX CONCURRENTLY).
	t.Run("upgrade", func(t *testing.T) {
		u := pgtest.URL(t)
		admin, err := sqlx.Open(db.PostgresDriverName, u)
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close()
		for _, prebuilt := range []bool{false, true} {
			d, err := db.Open(t.Context(), u, db.DefaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			d.Close()
			stmts := []string{"DROP INDEX " + db.NameTrigramIndex, "DELETE FROM schema_migrations WHERE version >= 12",
				// 0018_file_totals_order.sql undone (its files_summary_insert
				// goes with 0017's).
				"DROP TRIGGER files_summary_totals ON files", "DROP FUNCTION files_summary_totals",
				// 0017_summary_statements.sql undone (0016 replaces a function
				// body: applied again, it changes nothing).
				"DROP TRIGGER files_summary_insert ON files", "DROP FUNCTION files_summary_insert",
				"DROP TRIGGER files_summary_row ON files",
				`CREATE TRIGGER files_summary_row AFTER INSERT OR DELETE OR UPDATE OF machine, name, size, operation, is_archived, sha256, device, inode
					ON files FOR EACH ROW EXECUTE FUNCTION files_summary_row()`,
				"DROP TRIGGER contents_totals_insert ON contents", "DROP TRIGGER contents_totals_delete ON contents",
				"DROP TRIGGER contents_totals_update ON contents", "DROP FUNCTION contents_totals_statement",
				// 0015_content_totals.sql undone (its triggers went with 0017's undoing).
				"DROP TABLE content_totals"}
			if prebuilt {
				stmts = append(stmts, db.NameTrigramStatement)
			}
			for _, q := range stmts {
				if _, err := admin.ExecContext(t.Context(), q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			d, err = db.Open(t.Context(), u, db.DefaultOptions())
			if err != nil {
				t.Fatalf("upgrade from version 11, index prebuilt %v: %v", prebuilt, err)
			}
			s, err := d.ServerInfo(t.Context())
			v, verr := d.Version(t.Context())
			d.Close()
			if err != nil || verr != nil || !s.NameTrigrams || v != db.LatestVersion() {
				t.Errorf("after the upgrade (index prebuilt %v): version %d (%v), trigram index %v (%v)", prebuilt, v, verr, s.NameTrigrams, err)
			}
		}
	})

	t.Run("role without CREATE on the database", func(t *testing.T) {
		u := pgtest.URL(t)
		admin, err := sqlx.Open(db.PostgresDriverName, u)
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close()
		role := fmt.Sprintf("indexer_plain_%d", time.Now().UnixNano())
		for _, q := range []string{
			"CREATE ROLE " + role + " LOGIN",
			"REVOKE CREATE ON DATABASE " + dbName(t, u) + " FROM PUBLIC",
			"GRANT CONNECT ON DATABASE " + dbName(t, u) + " TO " + role,
			"GRANT ALL ON SCHEMA public TO " + role,
		} {
			if _, err := admin.ExecContext(t.Context(), q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		d, err := db.Open(t.Context(), strings.Replace(u, "postgres@", role+"@", 1), db.DefaultOptions())
		if err != nil {
			t.Fatalf("open as a role that may not create extensions: %v", err)
		}
		defer d.Close()
		insert(t, d)
		names, plan := find(t, d, "%port.t%")
		if want := []string{"report.txt", "r\xe9port.txt"}; !slices.Equal(names, want) {
			t.Errorf("names %q, want %q", names, want)
		}
		if strings.Contains(plan, db.NameTrigramIndex) {
			t.Errorf("plan names %s, which should not exist:\n%s", db.NameTrigramIndex, plan)
		}
		s, err := d.ServerInfo(t.Context())
		if err != nil || s.NameTrigrams {
			t.Errorf("ServerInfo: %+v, %v: want the missing trigram index reported", s, err)
		}
	})
}

// dbName returns the database of the PostgreSQL URL u.
func dbName(t *testing.T, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(p.Path, "/")
}
