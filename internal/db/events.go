package db

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// EpochTag is the tag of a change to everything (dto.TagEpoch): a migration
// records it.
const EpochTag = "epoch"

// EventsKept is how many rows of the events table writers keep. A server
// polls several times a second; a scan commits at most some hundreds of
// transactions a second, so this is seconds of history at the least, and a
// reader that falls further behind only loses its cache.
const EventsKept = 4096

// NotifyChannel is the PostgreSQL channel on which each write transaction
// announces, at its commit, the id of its events row.
const NotifyChannel = "indexer_events"

// eventsLock is the PostgreSQL advisory lock key under which events rows
// are written.
const eventsLock = 0x6576656e7473 // "events"

// RecordEvent writes one row of events naming tags, in the write transaction
// x, and prunes the rows beyond the newest EventsKept. It returns the row's
// id. Run it last in the transaction, so that the row is there exactly when
// the transaction's changes are.
func RecordEvent(ctx context.Context, x sqlx.ExtContext, tags []string) (int64, error) {
	b, err := json.Marshal(tags)
	if err != nil {
		return 0, fmt.Errorf("record changed tags: %w", err)
	}
	insert := "INSERT INTO events (tags) VALUES (?) RETURNING id"
	if DialectOf(x).Shared {
		// Writers run side by side on PostgreSQL: a readers' rule is that
		// ids follow each other without gaps in commit order, so the row
		// is written under a lock held until the commit, and takes the
		// largest id plus one. The lock is taken last in a transaction
		// (see above), so it is held for its commit only. Listeners hear
		// of it through a notification, sent at the commit.
		if _, err := x.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", eventsLock); err != nil {
			return 0, fmt.Errorf("record changed tags: %w", err)
		}
		insert = "INSERT INTO events (id, tags) SELECT COALESCE(MAX(id), 0) + 1, ? FROM events RETURNING id"
	}
	var id int64
	if err := sqlx.GetContext(ctx, x, &id, x.Rebind(insert), string(b)); err != nil {
		return 0, fmt.Errorf("record changed tags: %w", err)
	}
	if DialectOf(x).Shared {
		if _, err := x.ExecContext(ctx, "SELECT pg_notify($1, $2)", NotifyChannel, fmt.Sprint(id)); err != nil {
			return 0, fmt.Errorf("record changed tags: %w", err)
		}
	}
	if id > EventsKept && id%64 == 0 { // prune now and then: a range delete on the primary key
		if _, err := x.ExecContext(ctx, x.Rebind("DELETE FROM events WHERE id <= ?"), id-EventsKept); err != nil {
			return 0, fmt.Errorf("prune changed tags: %w", err)
		}
	}
	return id, nil
}

// Event is one row of events: a committed write and the tags it touched.
type Event struct {
	ID   int64
	Tags []string
}

// EventsAfter returns the rows of events after id, oldest first, and whether
// they follow id without a gap: false when rows after id were pruned before
// they were read, so that what changed cannot be told.
func EventsAfter(ctx context.Context, x sqlx.QueryerContext, id int64) (events []Event, complete bool, err error) {
	rows, err := x.QueryxContext(ctx, rebind(x, "SELECT id, tags FROM events WHERE id > ? ORDER BY id"), id)
	if err != nil {
		return nil, false, fmt.Errorf("read changed tags: %w", err)
	}
	defer rows.Close()
	next := id + 1
	complete = true
	for rows.Next() {
		var e Event
		var tags string
		if err := rows.Scan(&e.ID, &tags); err != nil {
			return nil, false, fmt.Errorf("read changed tags: %w", err)
		}
		if e.ID != next {
			complete = false
		}
		next = e.ID + 1
		if err := json.Unmarshal([]byte(tags), &e.Tags); err != nil {
			return nil, false, fmt.Errorf("read changed tags of event %d: %w", e.ID, err)
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("read changed tags: %w", err)
	}
	return events, complete, nil
}

// LastEvent returns the id of the newest row of events, 0 for none.
func LastEvent(ctx context.Context, x sqlx.QueryerContext) (int64, error) {
	var id int64
	if err := sqlx.GetContext(ctx, x, &id, "SELECT COALESCE(MAX(id), 0) FROM events"); err != nil {
		return 0, fmt.Errorf("read the last changed tags: %w", err)
	}
	return id, nil
}

// rebind writes query's ? placeholders as x's driver wants them, for x that
// may not say which driver it has.
func rebind(x any, query string) string {
	if b, ok := x.(interface{ Rebind(string) string }); ok {
		return b.Rebind(query)
	}
	return query
}
