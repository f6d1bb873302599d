package notify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/db"
)

// Options tune a Watcher. Zero values take the defaults.
type Options struct {
	// Interval is how often the catalog is looked at: the longest a write
	// of another process goes unheard, give or take one query. Default
	// 200ms.
	Interval time.Duration
	// BusyTimeout bounds the wait for SQLite's locks in one look. Default
	// 5s.
	BusyTimeout time.Duration
	// Log receives what goes wrong with a look (debug) and the epochs
	// reported (debug); nil discards it.
	Log *slog.Logger
}

// Watcher hears the writes committed to a catalog by other processes (and
// by this one's other connections) and hands their tags to a function.
type Watcher struct {
	path string
	opts Options
	fn   func(tags []string)

	stop context.CancelFunc
	done chan struct{}

	polls atomic.Int64

	// coalesce shares the looks of concurrent Sync calls.
	coalesce struct {
		mu              sync.Mutex
		cond            *sync.Cond
		begun, finished uint64
		looking         bool
		err             error
	}

	// lookMu makes the looks, and the calls of fn that follow them, one at
	// a time, whether the loop or Sync looks; it guards the fields below.
	lookMu  sync.Mutex
	closed  bool
	x       *sqlx.DB
	conn    *sqlx.Conn
	id      fileID // the file the connection has open
	version int64  // its PRAGMA data_version after the last look
	last    int64  // the last events row read
	// pg is set for a PostgreSQL catalog (see postgres.go): then path is
	// its URL without the password, and the SQLite fields above are unused.
	pg *pgListener
}

// fileID is what tells one file from another that took its name.
type fileID struct{ dev, ino uint64 }

func statID(path string) (fileID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, fmt.Errorf("stat %s: no device and inode", path)
	}
	return fileID{dev: uint64(st.Dev), ino: st.Ino}, nil
}

// Watch starts watching the catalog at path (a file, or a PostgreSQL URL:
// see postgres.go), which must exist, and returns
// once it is watched: every write committed from then on is reported. fn is
// called from one goroutine of the Watcher, one call at a time, with the
// union of the tags of the writes seen in one look, sorted; or with
// []string{dto.TagEpoch} when what changed cannot be told: the rows that
// would say were pruned before they were read, the catalog file was replaced
// (its device or inode changed: a restore), or a look failed.
//
// The Watcher holds one connection to the catalog, opened read-only, and no
// lock of indexer's: a restore in another process is not kept waiting by it
// (between looks it holds no transaction, so the restore's checkpoint does
// not wait either). When the file is replaced, the connection to the old one
// is closed; SQLite neither checkpoints nor removes the -wal and -shm of a
// database file that was moved (SQLITE_FCNTL_HAS_MOVED), and a read-only
// connection could not anyway, so the new file's are left alone. Close stops
// the Watcher.
func Watch(ctx context.Context, path string, opts Options, fn func(tags []string)) (*Watcher, error) {
	if opts.Interval <= 0 {
		opts.Interval = 200 * time.Millisecond
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = db.DefaultOptions().BusyTimeout
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	w := &Watcher{path: path, opts: opts, fn: fn, done: make(chan struct{})}
	w.coalesce.cond = sync.NewCond(&w.coalesce.mu)
	open := w.open
	if db.IsPostgres(path) {
		w.path, w.pg = db.Redact(path), &pgListener{url: path}
		open = w.pgConnect
	}
	if err := open(ctx); err != nil {
		return nil, err
	}
	run, stop := context.WithCancel(context.WithoutCancel(ctx))
	w.stop = stop
	go w.loop(run)
	return w, nil
}

// Close stops the Watcher and closes its connection. fn is not called
// after Close returns.
func (w *Watcher) Close() error {
	w.stop()
	<-w.done
	return nil
}

// Polls returns how many looks the Watcher has finished.
func (w *Watcher) Polls() int64 { return w.polls.Load() }

func (w *Watcher) loop(ctx context.Context) {
	defer close(w.done)
	defer func() {
		w.lookMu.Lock()
		defer w.lookMu.Unlock()
		w.closed = true
		w.closeConn()
		if w.pg != nil {
			w.pgClose()
		}
	}()
	t := time.NewTicker(w.opts.Interval)
	defer t.Stop()
	for {
		look := w.look
		if w.pg != nil {
			look = w.pgLook // waits for a notification itself
		} else {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
		// A SQLite look shares the connection with Sync's; PostgreSQL's
		// waits for a notification and has no Sync to share with.
		if w.pg == nil {
			w.lookMu.Lock()
		}
		tags, err := look(ctx)
		unlock := func() {
			if w.pg == nil {
				w.lookMu.Unlock()
			}
		}
		if ctx.Err() != nil {
			unlock()
			return
		}
		if err != nil {
			w.opts.Log.Debug("cannot tell what changed in the catalog; dropping every cached answer", "catalog", w.path, "err", err)
			if w.pg != nil { // the server may be down: do not reconnect at once
				select {
				case <-ctx.Done():
					return // (PostgreSQL: lookMu not held)
				case <-time.After(min(w.opts.Interval, time.Second)):
				}
			}
		}
		w.polls.Add(1)
		if len(tags) > 0 {
			w.fn(tags)
		}
		unlock()
	}
}

// ErrClosed is Sync's error after Close.
var ErrClosed = errors.New("the catalog watcher is closed")

// Sync looks at the catalog now, unless a look that began after Sync was
// called is under way, and returns once fn has been handed what that look
// found: every write committed before Sync was called has then been
// reported. A server calls it before it answers from its cache, so that it
// never serves an answer older than a write another process committed
// before the request came. Concurrent calls share looks. When the look
// fails, fn is handed the epoch (what changed cannot be told) and the error
// is returned. The look does not end with ctx (it is bounded by
// Options.BusyTimeout), so that a request that goes away does not cost the
// others a reconnection. After Close, Sync returns ErrClosed.
func (w *Watcher) Sync(ctx context.Context) error {
	if w.pg != nil {
		// PostgreSQL pushes its notifications; the loop hears them as they
		// arrive, and there is no cheap local check to force one sooner.
		return nil
	}
	s := &w.coalesce
	s.mu.Lock()
	defer s.mu.Unlock()
	want := s.begun + 1 // a look that begins after this call
	for s.finished < want {
		if s.looking {
			s.cond.Wait()
			continue
		}
		s.looking = true
		s.begun++
		n := s.begun
		s.mu.Unlock()
		err := w.lookNow(context.WithoutCancel(ctx))
		s.mu.Lock()
		s.looking = false
		s.finished, s.err = n, err
		s.cond.Broadcast()
	}
	return s.err
}

// lookNow is one look of Sync's, reported to fn.
func (w *Watcher) lookNow(ctx context.Context) error {
	w.lookMu.Lock()
	defer w.lookMu.Unlock()
	if w.closed {
		return ErrClosed
	}
	tags, err := w.look(ctx)
	if err != nil {
		tags = []string{db.EpochTag}
		err = fmt.Errorf("watch catalog %s: %w", w.path, err)
	}
	if len(tags) > 0 {
		w.fn(tags)
	}
	return err
}

// look checks the catalog once and returns the tags to report.
func (w *Watcher) look(ctx context.Context) ([]string, error) {
	id, err := statID(w.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // between a removal and a rename: look again later
	}
	if err != nil {
		return nil, err
	}
	if w.conn == nil || id != w.id {
		// Replaced (or a look failed and the connection was dropped):
		// start over on whatever file is there now.
		w.closeConn()
		if err := w.open(ctx); err != nil {
			return nil, err
		}
		return []string{db.EpochTag}, nil
	}
	tags, err := w.changes(ctx)
	if err != nil {
		w.closeConn() // the next look reopens, and reports the epoch
		return nil, err
	}
	return tags, nil
}

// open connects to the file at w.path and takes its current state as seen.
func (w *Watcher) open(ctx context.Context) error {
	before, err := statID(w.path)
	if err != nil {
		return fmt.Errorf("watch catalog: %w", err)
	}
	q := url.Values{}
	q.Add("mode", "ro")
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(w.opts.BusyTimeout.Milliseconds(), 10)+")")
	x, err := sqlx.Open(db.DriverName, (&url.URL{Scheme: "file", Opaque: (&url.URL{Path: w.path}).EscapedPath(), RawQuery: q.Encode()}).String())
	if err != nil {
		return fmt.Errorf("watch catalog %s: %w", w.path, err)
	}
	x.SetMaxOpenConns(1)
	conn, err := x.Connx(ctx)
	if err != nil {
		x.Close()
		return fmt.Errorf("watch catalog %s: %w", w.path, err)
	}
	w.x, w.conn = x, conn
	err = w.read(ctx, func(tx *sqlx.Tx, version int64) error {
		last, err := db.LastEvent(ctx, tx)
		w.version, w.last = version, last
		return err
	})
	if err == nil {
		// The connection opened the file that was there before it
		// connected, unless it was replaced meanwhile: then look again.
		var after fileID
		if after, err = statID(w.path); err == nil && after != before {
			err = fmt.Errorf("the catalog %s was replaced while it was opened", w.path)
		}
		w.id = before
	}
	if err != nil {
		w.closeConn()
		return fmt.Errorf("watch catalog %s: %w", w.path, err)
	}
	return nil
}

// changes returns the tags of the events committed since the last look, or
// the epoch when they cannot be told.
func (w *Watcher) changes(ctx context.Context) ([]string, error) {
	var tags []string
	err := w.read(ctx, func(tx *sqlx.Tx, version int64) error {
		if version == w.version {
			return nil
		}
		events, complete, err := db.EventsAfter(ctx, tx, w.last)
		if err != nil {
			return err
		}
		w.version = version
		if len(events) > 0 {
			w.last = events[len(events)-1].ID
		}
		if !complete {
			tags = []string{db.EpochTag} // pruned before they were read
			return nil
		}
		// data_version also moves when another connection checkpoints
		// the WAL, which changes no row: with no new events, nothing
		// changed that indexer wrote. (A program other than indexer
		// writing to the catalog is not heard; the TTL bounds that.)
		set := map[string]bool{}
		for _, e := range events {
			for _, t := range e.Tags {
				if !set[t] {
					set[t] = true
					tags = append(tags, t)
				}
			}
		}
		return nil
	})
	slices.Sort(tags)
	return tags, err
}

// read runs fn in one read transaction on the pinned connection, with the
// connection's data_version read in it: the events fn reads are those of
// exactly that version.
func (w *Watcher) read(ctx context.Context, fn func(tx *sqlx.Tx, version int64) error) error {
	tx, err := w.conn.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var version int64
	if err := tx.GetContext(ctx, &version, "PRAGMA data_version"); err != nil {
		return fmt.Errorf("read data_version: %w", err)
	}
	return fn(tx, version)
}

func (w *Watcher) closeConn() {
	if w.conn != nil {
		w.conn.Close()
		w.x.Close()
		w.conn, w.x = nil, nil
	}
}
