package notify

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/pgtest"
	"github.com/indexer/indexer/internal/uow"
)

// TestWatchPostgres watches a PostgreSQL catalog: a write committed by
// another handle (as another machine's process would) is heard with its
// tags; a rolled-back one is not; and when the listening connection is cut
// by the server, the Watcher reconnects and reports the epoch, since a
// notification may have been lost meanwhile.
func TestWatchPostgres(t *testing.T) {
	url := pgtest.URL(t)
	d, err := db.Open(t.Context(), url, db.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	u := uow.New(d)
	got := make(chan []string, 100)
	// A long interval: what is heard within the guard is heard through
	// the notification, not by the periodic look.
	w, err := Watch(t.Context(), url, Options{Interval: time.Hour}, func(tags []string) { got <- tags })
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	next := func() []string {
		t.Helper()
		select {
		case tags := <-got:
			return tags
		case <-time.After(guard):
			t.Fatal("no report")
			return nil
		}
	}
	_ = u.Do(context.Background(), "rolled back", func(ctx context.Context, r *uow.Repos) error {
		if err := r.Files.UpsertMany(ctx, []dto.FileWithHash{file("gone", "/g")}); err != nil {
			return err
		}
		return context.Canceled
	})
	write(t, u, "m", "/a")
	if tags := next(); !slices.Equal(tags, []string{"files", "machine:m"}) {
		t.Errorf("heard %q; want the write's tags", tags)
	}

	// The server ends the listening connection (an administrator, a
	// restart): the Watcher comes back and says it cannot tell what
	// changed.
	if err := d.WithWrite(func(x *sqlx.DB) error {
		_, err := x.ExecContext(t.Context(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = $1`, ApplicationName)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if tags := next(); !slices.Equal(tags, []string{db.EpochTag}) {
		t.Errorf("after the connection was cut, heard %q; want the epoch", tags)
	}
	write(t, u, "n", "/b")
	if tags := next(); !slices.Equal(tags, []string{"files", "machine:n"}) {
		t.Errorf("after the reconnect, heard %q; want the write's tags", tags)
	}
}
