package db_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dbtest"
	"github.com/indexer/indexer/internal/pgtest"
)

// openRaw opens a raw connection to d within a read, closed when the test
// ends.
func openRaw(t *testing.T, d *db.DB) *db.RawConn {
	t.Helper()
	var c *db.RawConn
	err := d.WithRead(func(*sqlx.DB) error {
		var err error
		c, err = d.OpenRaw(t.Context())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestRawQuery checks a raw connection's rows: bound integers, text and
// blobs come back as they went in, NULL as nil and 0, and a statement
// SQLite refuses is an error.
func TestRawQuery(t *testing.T) {
	d := dbtest.MustOpen(t)
	c := openRaw(t, d)
	blob := []byte{0, 1, 0xff, 'x'}
	rows, err := c.Query(t.Context(), "SELECT ?, ?, ?, NULL, ? + 1", int64(-1<<62), "näme\x00z", blob, int64(41))
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() {
		t.Fatalf("no row: %v", rows.Err())
	}
	if got := rows.Int64(0); got != -1<<62 {
		t.Errorf("column 0 = %d, want %d", got, int64(-1<<62))
	}
	if got := string(rows.Bytes(1)); got != "näme\x00z" {
		t.Errorf("column 1 = %q, want %q", got, "näme\x00z")
	}
	if got := rows.Bytes(2); !bytes.Equal(got, blob) {
		t.Errorf("column 2 = %x, want %x", got, blob)
	}
	if got, n := rows.Bytes(3), rows.Int64(3); got != nil || n != 0 {
		t.Errorf("NULL column = %q and %d, want nil and 0", got, n)
	}
	if got := rows.Int64(4); got != 42 {
		t.Errorf("column 4 = %d, want 42", got)
	}
	if rows.Next() {
		t.Error("a second row")
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Query(t.Context(), "SELECT * FROM no_such_table"); err == nil {
		t.Error("a query of a missing table prepared without an error")
	}
	if _, err := c.Query(t.Context(), "SELECT ?", 1.5); err == nil {
		t.Error("a float bound without an error")
	}
}

// TestRawSnapshot checks that a raw connection reads one snapshot from its
// first read to Close: a row committed meanwhile is not seen, and is seen
// by the next raw connection.
func TestRawSnapshot(t *testing.T) {
	d := dbtest.MustOpen(t)
	count := func(c *db.RawConn) int64 {
		t.Helper()
		rows, err := c.Query(t.Context(), "SELECT COUNT(*) FROM scans")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		if !rows.Next() {
			t.Fatalf("no count: %v", rows.Err())
		}
		return rows.Int64(0)
	}
	c := openRaw(t, d)
	before := count(c)
	err := d.WithWrite(func(w *sqlx.DB) error {
		_, err := w.ExecContext(t.Context(), `INSERT INTO scans (machine, roots, started, status) VALUES ('m', '[]', 1, 'complete')`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := count(c); got != before {
		t.Errorf("the raw connection sees %d scans after a commit, want the %d of its snapshot", got, before)
	}
	if got := count(openRaw(t, d)); got != before+1 {
		t.Errorf("a new raw connection sees %d scans, want %d", got, before+1)
	}
}

// TestRawCanceled checks that rows stop once their context is done.
func TestRawCanceled(t *testing.T) {
	d := dbtest.MustOpen(t)
	c := openRaw(t, d)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	rows, err := c.Query(ctx, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT i FROM n")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		if n++; n == 10 {
			cancel()
		}
		if n > 1_000_000 {
			t.Fatal("rows go on after their context was canceled")
		}
	}
	if !errors.Is(rows.Err(), context.Canceled) {
		t.Errorf("Err() = %v after %d rows, want context.Canceled", rows.Err(), n)
	}
}

// TestRawNotOnPostgres checks that a PostgreSQL catalog has no raw
// connection, and says so with ErrNoRaw.
func TestRawNotOnPostgres(t *testing.T) {
	d, err := db.Open(t.Context(), pgtest.URL(t), db.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if c, err := d.OpenRaw(t.Context()); !errors.Is(err, db.ErrNoRaw) {
		if c != nil {
			c.Close()
		}
		t.Errorf("OpenRaw on PostgreSQL: %v, want ErrNoRaw", err)
	}
}

// TestRawCanceledBeforeFirstRow checks that a statement that works long
// before its first row (here three million rows counted) ends once its
// context is done, as the pools' statements do: Next checks the context
// only between rows, so the statement is interrupted (sqlite3_interrupt).
func TestRawCanceledBeforeFirstRow(t *testing.T) {
	d := dbtest.MustOpen(t)
	c := openRaw(t, d)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	rows, err := c.Query(ctx, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000) SELECT COUNT(*) FROM n")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if rows.Next() {
		t.Fatalf("the statement ran to its row (%d) past its context's deadline", rows.Int64(0))
	}
	if !errors.Is(rows.Err(), context.DeadlineExceeded) {
		t.Errorf("Err() = %v, want context.DeadlineExceeded", rows.Err())
	}
}

// TestRawErrorCarriesItsCode checks that an error of a raw connection
// carries SQLite's result code where db.Code, and so IsBusy, IsCorrupt and
// their kin, find it: a raw connection is read-only.
func TestRawErrorCarriesItsCode(t *testing.T) {
	d := dbtest.MustOpen(t)
	c := openRaw(t, d)
	rows, err := c.Query(t.Context(), "CREATE TABLE raw_written (a INTEGER)")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
	}
	err = rows.Close()
	if err == nil {
		t.Fatal("a raw connection created a table")
	}
	if !db.IsReadOnly(fmt.Errorf("wrapped: %w", err)) {
		t.Errorf("db.IsReadOnly(%v) = false, code %d", err, db.Code(err))
	}
}

// TestRawSettings: a raw connection keeps a small page cache (see
// rawCacheSize), not SQLite's default, and sorts a listing too large to
// hold with worker threads, as an index build does.
func TestRawSettings(t *testing.T) {
	d := dbtest.MustOpen(t)
	if d.Dialect().Shared {
		t.Skip("a raw connection is SQLite's")
	}
	threads := int64(db.SortWorkers())
	if threads == 0 {
		t.Fatal("sorts are single-threaded before any test asked")
	}
	// A server's raw connections sort on one thread (SingleThreadedSorts).
	for _, single := range []bool{false, true} {
		db.SetSingleThreadedSorts(single)
		c := openRaw(t, d)
		db.SetSingleThreadedSorts(false)
		want := threads
		if single {
			want = 0
		}
		for _, tc := range []struct {
			pragma string
			want   int64
		}{{"cache_size", -256}, {"threads", want}} {
			rows, err := c.Query(t.Context(), "PRAGMA "+tc.pragma)
			if err != nil {
				t.Fatal(err)
			}
			if !rows.Next() {
				t.Fatalf("%s: no row: %v", tc.pragma, rows.Err())
			}
			if got := rows.Int64(0); got != tc.want {
				t.Errorf("single-threaded %v: %s %d, want %d", single, tc.pragma, got, tc.want)
			}
			rows.Close()
		}
	}
}
