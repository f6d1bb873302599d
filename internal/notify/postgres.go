package notify

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/db"
)

// On PostgreSQL a Watcher listens: every write transaction sends, at its
// commit, a notification on db.NotifyChannel (see db.RecordEvent), and the
// Watcher, woken by it, reads the events rows after the last it read, as on
// SQLite. It also reads them every Interval without a notification, which
// costs one indexed query. A notification sent while the listening
// connection was down is lost: after every reconnect the Watcher reports the
// epoch.

// ApplicationName is the name the Watcher's connection gives the server.
const ApplicationName = "indexer-notify"

// pgListener is the Watcher's connection to a PostgreSQL catalog.
type pgListener struct {
	url  string
	x    *sqlx.DB
	conn *sqlx.Conn
}

// connect opens the connection, listens, and takes the newest events row
// as read.
func (w *Watcher) pgConnect(ctx context.Context) error {
	l := w.pg
	u, err := url.Parse(l.url)
	if err != nil {
		return fmt.Errorf("watch catalog %s: %w", w.path, err)
	}
	q := u.Query()
	q.Set("application_name", ApplicationName) // for an administrator's pg_stat_activity
	u.RawQuery = q.Encode()
	x, err := sqlx.Open(db.PostgresDriverName, u.String())
	if err != nil {
		return fmt.Errorf("watch catalog %s: %w", w.path, err)
	}
	x.SetMaxOpenConns(1)
	conn, err := x.Connx(ctx)
	if err == nil {
		_, err = conn.ExecContext(ctx, "LISTEN "+db.NotifyChannel)
	}
	var last int64
	if err == nil {
		last, err = db.LastEvent(ctx, conn)
	}
	if err != nil {
		if conn != nil {
			conn.Close()
		}
		x.Close()
		return fmt.Errorf("watch catalog %s: %w", w.path, err)
	}
	l.x, l.conn, w.last = x, conn, last
	return nil
}

func (w *Watcher) pgClose() {
	if l := w.pg; l.conn != nil {
		l.conn.Close()
		l.x.Close()
		l.conn, l.x = nil, nil
	}
}

// pgLook waits up to Interval for a notification, then returns the tags of
// the events committed since the last look; the epoch after a reconnect.
func (w *Watcher) pgLook(ctx context.Context) ([]string, error) {
	l := w.pg
	if l.conn == nil {
		if err := w.pgConnect(ctx); err != nil {
			return nil, err
		}
		return []string{db.EpochTag}, nil
	}
	err := l.conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("driver connection %T is not pgx's", dc)
		}
		wait, cancel := context.WithTimeout(ctx, w.opts.Interval)
		defer cancel()
		err := c.Conn().PgConn().WaitForNotification(wait)
		if pgconn.Timeout(err) && ctx.Err() == nil {
			return nil // no notification: look anyway
		}
		return err
	})
	if err == nil {
		var events []db.Event
		var complete bool
		events, complete, err = db.EventsAfter(ctx, l.conn, w.last)
		if err == nil {
			if len(events) > 0 {
				w.last = events[len(events)-1].ID
			}
			if !complete {
				return []string{db.EpochTag}, nil
			}
			var tags []string
			for _, e := range events {
				for _, t := range e.Tags {
					if !slices.Contains(tags, t) {
						tags = append(tags, t)
					}
				}
			}
			slices.Sort(tags)
			return tags, nil
		}
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil, err
	}
	w.pgClose() // the next look reconnects, and reports the epoch
	return nil, err
}
