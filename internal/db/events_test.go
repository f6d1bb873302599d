package db_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dbtest"
	"github.com/indexer/indexer/internal/dto"
)

func TestEpochTagIsDTOs(t *testing.T) {
	if db.EpochTag != dto.TagEpoch {
		t.Errorf("db.EpochTag = %q, dto.TagEpoch = %q", db.EpochTag, dto.TagEpoch)
	}
}

// record writes n events in one transaction each, tagged "t<i>".
func record(t *testing.T, d *db.DB, from, n int) {
	t.Helper()
	err := d.WithWrite(func(w *sqlx.DB) error {
		for i := from; i < from+n; i++ {
			tx, err := w.BeginTxx(t.Context(), nil)
			if err != nil {
				return err
			}
			if _, err := db.RecordEvent(t.Context(), tx, []string{"t" + string(rune('a'+i%26))}); err != nil {
				tx.Rollback()
				return err
			}
			if err := tx.Commit(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func eventsAfter(t *testing.T, d *db.DB, id int64) ([]db.Event, bool) {
	t.Helper()
	var es []db.Event
	var complete bool
	err := d.WithRead(func(r *sqlx.DB) error {
		var err error
		es, complete, err = db.EventsAfter(t.Context(), r, id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return es, complete
}

func TestEventsPrunedAndGapSeen(t *testing.T) {
	d := dbtest.MustOpen(t)
	var start int64
	if err := d.WithRead(func(r *sqlx.DB) error {
		var err error
		start, err = db.LastEvent(context.Background(), r)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	record(t, d, 0, 10)
	es, complete := eventsAfter(t, d, start)
	if len(es) != 10 || !complete || es[0].ID != start+1 || !slices.Equal(es[1].Tags, []string{"tb"}) {
		t.Fatalf("10 events after %d: %+v, complete %v", start, es, complete)
	}
	record(t, d, 10, db.EventsKept+200)
	var n, last int64
	if err := d.WithRead(func(r *sqlx.DB) error {
		return r.QueryRow("SELECT COUNT(*), MAX(id) FROM events").Scan(&n, &last)
	}); err != nil {
		t.Fatal(err)
	}
	if n < db.EventsKept || n > db.EventsKept+64 {
		t.Errorf("%d events kept; want %d to %d", n, db.EventsKept, db.EventsKept+64)
	}
	// A reader that last read the tenth row finds the rows after it pruned.
	if _, complete := eventsAfter(t, d, start+10); complete {
		t.Error("events after a pruned id reported complete")
	}
	// One that read recently finds them all.
	if es, complete := eventsAfter(t, d, last-5); len(es) != 5 || !complete {
		t.Errorf("events after %d: %d, complete %v; want 5, complete", last-5, len(es), complete)
	}
}

// TestMigrationRecordsEpoch: a catalog upgraded from an older schema has an
// epoch event: a server caching answers from it must drop them all.
func TestMigrationRecordsEpoch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	dbtest.WriteOldCatalog(t, path, 4, func(func(string, ...any)) {})
	d := dbtest.MustOpenPath(t, path)
	es, complete := eventsAfter(t, d, 0)
	if !complete || len(es) != 1 || !slices.Equal(es[0].Tags, []string{dto.TagEpoch}) {
		t.Errorf("events after migrating: %+v, complete %v; want one epoch", es, complete)
	}
	// Opening it again migrates nothing and records nothing.
	d.Close()
	d = dbtest.MustOpenPath(t, path)
	if es, _ := eventsAfter(t, d, 0); len(es) != 1 {
		t.Errorf("%d events after a second open; want 1", len(es))
	}
}
