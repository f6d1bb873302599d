package db_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

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
