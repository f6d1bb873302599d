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

// RecordEvent writes one row of events naming tags, in the write transaction
// x, and prunes the rows beyond the newest EventsKept. It returns the row's
// id. Run it last in the transaction, so that the row is there exactly when
// the transaction's changes are.
func RecordEvent(ctx context.Context, x sqlx.ExtContext, tags []string) (int64, error) {
	b, err := json.Marshal(tags)
	if err != nil {
		return 0, fmt.Errorf("record changed tags: %w", err)
	}
	var id int64
	if err := sqlx.GetContext(ctx, x, &id, "INSERT INTO events (tags) VALUES (?) RETURNING id", string(b)); err != nil {
		return 0, fmt.Errorf("record changed tags: %w", err)
	}
	if id > EventsKept && id%64 == 0 { // prune now and then: a range delete on the primary key
		if _, err := x.ExecContext(ctx, "DELETE FROM events WHERE id <= ?", id-EventsKept); err != nil {
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
	rows, err := x.QueryxContext(ctx, "SELECT id, tags FROM events WHERE id > ? ORDER BY id", id)
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
