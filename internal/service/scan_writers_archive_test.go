package service

import (
	"archive/zip"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/archive/archivetest"
	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/pgtest"
)

// TestPostgresArchiveRowAfterItsEntries: an archive's own row commits with,
// or after, every chunk of its entries. The next scan trusts an archive
// whose row is stored and does not read its entries again, so a scan killed
// (kill -9) once the row has committed but before a chunk of its entries has
// loses those entries for good. The chunk holding the first entry is held
// back here (a trigger, named to fire before the summary's, makes it wait
// for a lock the test holds) while the rest of the scan goes on: the
// archive's row must not commit meanwhile.
func TestPostgresArchiveRowAfterItsEntries(t *testing.T) {
	// More entries than a chunk; the results fit the results channel and
	// the writers' chunks, so the one hash worker sends them all, the
	// archive's row last, whatever the writers do.
	const entries = 650
	ctx := context.Background()
	u := pgtest.URL(t)
	c, err := Open(ctx, u, db.DefaultOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	x, err := sqlx.Open("pgx", u)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	root := t.TempDir()
	var fs []archivetest.File
	for i := range entries {
		fs = append(fs, archivetest.File{Name: fmt.Sprintf("e%03d", i), Data: fmt.Appendf(nil, "entry %d", i)})
	}
	arcWrite(t, filepath.Join(root, "a.zip"), archivetest.Zip(t, fs, zip.Store))
	arcSettle()

	const lock = 0x686f6c64 // "hold"
	if _, err := x.Exec(fmt.Sprintf(`CREATE FUNCTION hold_first_entry() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF EXISTS (SELECT 1 FROM new_rows WHERE archive_path = 'e000'::BYTEA) THEN
				PERFORM pg_advisory_xact_lock(%d);
			END IF;
			RETURN NULL;
		END $$;
		CREATE TRIGGER a_hold_first_entry AFTER INSERT ON files REFERENCING NEW TABLE AS new_rows
			FOR EACH STATEMENT EXECUTE FUNCTION hold_first_entry();`, lock)); err != nil {
		t.Fatal(err)
	}
	holder, err := x.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if _, err := holder.ExecContext(ctx, "SELECT pg_advisory_lock($1)", lock); err != nil {
		t.Fatal(err)
	}
	released := false
	release := func() {
		if !released {
			released = true
			if _, err := holder.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", lock); err != nil {
				t.Error(err)
			}
		}
	}
	defer release()

	type outcome struct {
		rep ScanReport
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		rep, err := c.Scan(ctx, []string{root}, ScanOptions{Machine: "m", Archives: true, Workers: 1})
		done <- outcome{rep, err}
	}()
	count := func(q string) int {
		var n int
		if err := x.GetContext(ctx, &n, q); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Wait for the chunk of the first entry to wait on the lock.
	for count(`SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'advisory'`) == 0 {
		select {
		case o := <-done:
			t.Fatalf("the scan ended (%v, %+v) before the chunk of the first entry was held back", o.err, o.rep.Counts)
		case <-time.After(10 * time.Millisecond):
		}
	}
	// The rest of the scan has the time it needs to commit everything
	// else; the archive's row must not be part of it. (Seen within this
	// time when it is; never a failure when it is not.)
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if n := count("SELECT COUNT(*) FROM files WHERE is_archived = 0"); n != 0 {
			held := count("SELECT COUNT(*) FROM files WHERE is_archived <> 0")
			t.Errorf("the archive's row committed while a chunk of its entries had not (%d of %d entries stored): a scan killed now loses the others", held, entries)
			break
		}
	}
	release()
	o := <-done
	if o.err != nil || o.rep.Status != dto.ScanComplete {
		t.Fatalf("scan %s: %v", o.rep.Status, o.err)
	}
	if n := count("SELECT COUNT(*) FROM files WHERE is_archived <> 0 AND operation <> 'DEL'"); n != entries {
		t.Fatalf("%d entries stored, want %d", n, entries)
	}
}
