package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	"golang.org/x/sys/unix"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// DriverName is the database/sql driver the catalog uses.
const DriverName = "sqlite"

// DB is an open catalog. It is safe for concurrent use. The pools behind it may
// be swapped by Replace; callers never keep a *sqlx.DB beyond one WithRead or
// WithWrite call, so they always use the current pools.
type DB struct {
	path    string // the file, or a PostgreSQL URL without its password
	opts    Options
	dialect Dialect

	// mu guards the pools: WithRead and WithWrite hold it shared for the length
	// of their callback, Replace and Close hold it exclusively.
	mu     sync.RWMutex
	holdMu sync.Mutex // guards holds; taken under mu held shared or exclusively
	// writeMu guards write, which a catalog opened by openReads opens on
	// first use, under mu held shared.
	writeMu sync.Mutex
	write   *sqlx.DB
	read    *sqlx.DB
	lock    *fileLock // nil for a read-only catalog without a lock file
	closed  bool
	// readOnly is set for a catalog on a read-only file system opened with
	// OnlyReads: it has a read pool only.
	readOnly bool
	reopens  int
	// holds counts the work in this process that spans many transactions
	// (a scan) and must not see the file swapped under it: Replace waits
	// for, or refuses, while it is above zero. The file lock does the same
	// for other processes. Guarded by mu.
	holds int

	// leaseMu guards busy, the work in flight between Acquire and its
	// release (see lease.go). Taken before mu, never under it.
	leaseMu sync.Mutex
	busy    int
	// fileID and shmID identify the files the pools opened. Guarded by mu.
	fileID, shmID fileID
	// needReopen is set when a reopen failed and the pools are shut: the
	// next Acquire reopens whatever file is in place, even the very file
	// the pools had opened before (moved back). Guarded by mu.
	needReopen bool
	// onReopen is called after the pools were reopened on another file.
	onReopen atomic.Pointer[func()]
}

// OnReopen sets fn to be called each time the pools are reopened on a file
// that replaced the catalog: by Replace in this process, or by the first
// Acquire after another process replaced it. fn runs synchronously, before
// Replace returns or Acquire hands out its lease, so that nothing reads the
// new file before fn has run: a server drops its cached answers there. fn
// must not use d. nil removes it.
func (d *DB) OnReopen(fn func()) {
	if fn == nil {
		d.onReopen.Store(nil)
		return
	}
	d.onReopen.Store(&fn)
}

// reopened calls the OnReopen function, if one is set.
func (d *DB) reopened() {
	if fn := d.onReopen.Load(); fn != nil {
		(*fn)()
	}
}

// Hold keeps Replace from swapping the catalog until release is called: a
// scan takes it, since its later transactions refer to rows it read earlier.
func (d *DB) Hold() (release func(), err error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return nil, ErrClosed
	}
	d.holdMu.Lock()
	d.holds++
	d.holdMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			d.holdMu.Lock()
			d.holds--
			d.holdMu.Unlock()
		})
	}, nil
}

// lockUnheld takes mu exclusively once nothing in this process holds the
// catalog; without wait it returns ErrInUse at once when something does.
func (d *DB) lockUnheld(ctx context.Context, wait bool) error {
	for {
		d.mu.Lock()
		if d.closed {
			d.mu.Unlock()
			return ErrClosed
		}
		d.holdMu.Lock()
		held := d.holds > 0
		d.holdMu.Unlock()
		if !held {
			return nil
		}
		d.mu.Unlock()
		if !wait {
			return fmt.Errorf("a scan in this process is using the catalog: %w", ErrInUse)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Open opens the catalog at path, creating it (and its directory) unless
// opts.MustExist is set, and applies pending migrations. The path is resolved
// by CatalogPath, which refuses anything but a regular file or nothing. Open
// holds a shared inter-process lock on the catalog's lock file until Close, so
// that a restore in another process cannot swap the file underneath.
//
// A catalog on a read-only file system is refused, unless opts.OnlyReads: then
// it is opened read-only, with no write pool and without migrating it (a
// catalog of an older schema is refused), and without a lock when there is no
// lock file (none can be made, and nobody can write the catalog to need one).
// Errors that come from where the catalog lies (permission denied, a
// read-only file system) match the syscall error with errors.Is.
//
// A path that is a postgres:// or postgresql:// URL opens the catalog on that
// PostgreSQL server instead (see openPostgres); it takes no lock, and the
// options that concern a file (OnlyReads, UnlockIdle) change nothing there.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	if IsPostgres(path) {
		return openPostgres(ctx, path, opts.withDefaults())
	}
	abs, err := CatalogPath(path)
	if err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	_, err = os.Stat(abs)
	missing := errors.Is(err, fs.ErrNotExist)
	switch {
	case missing && opts.MustExist:
		return nil, fmt.Errorf("%s: %w", abs, ErrNotExist)
	case missing:
		if err := os.MkdirAll(filepath.Dir(abs), DirMode); err != nil {
			return nil, fmt.Errorf("create catalog directory: %w", err)
		}
	case err != nil:
		return nil, fmt.Errorf("stat catalog: %w", err)
	}
	d := &DB{path: abs, opts: opts, dialect: SQLite}
	if readOnlyFS(filepath.Dir(abs)) {
		if !opts.OnlyReads {
			return nil, &fs.PathError{Op: "open catalog", Path: abs, Err: syscall.EROFS}
		}
		if missing {
			return nil, fmt.Errorf("%s: %w", abs, ErrNotExist)
		}
		d.readOnly = true
	}
	d.lock, err = acquireShared(ctx, lockPath(abs), opts.BusyTimeout)
	if err != nil && !(d.readOnly && errors.Is(err, syscall.EROFS)) {
		return nil, err
	}
	if err := d.openPools(ctx); err != nil {
		d.lock.close()
		return nil, withPlaceCause(abs, err)
	}
	if opts.UnlockIdle {
		d.lock.unlock() // taken again by Acquire
	}
	return d, nil
}

// readOnlyFS reports whether dir lies on a file system mounted read-only,
// where nobody can write.
func readOnlyFS(dir string) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && st.Flags&unix.ST_RDONLY != 0
}

// withPlaceCause adds to err, an SQLite error that says the catalog could not
// be opened or written, the cause when it is the catalog's directory: this
// user may not create the -wal and -shm files in it.
func withPlaceCause(path string, err error) error {
	if !IsCantOpen(err) && !IsReadOnly(err) {
		return err
	}
	dir := filepath.Dir(path)
	if aerr := unix.Access(dir, unix.W_OK); aerr != nil {
		return fmt.Errorf("%w (its -wal and -shm files cannot be created: %w)", err, &fs.PathError{Op: "write", Path: dir, Err: aerr})
	}
	return err
}

// ReadOnly reports whether the catalog was opened read-only, on a read-only
// file system: it has no write pool.
func (d *DB) ReadOnly() bool { return d.readOnly }

// Path returns the catalog's absolute file path, or for a PostgreSQL catalog
// its URL without the password.
func (d *DB) Path() string { return d.path }

// Dialect returns the catalog's engine.
func (d *DB) Dialect() Dialect { return d.dialect }

// Options returns the options the catalog was opened with.
func (d *DB) Options() Options { return d.opts }

// dsn builds the connection string. busy_timeout comes first so that setting
// the journal mode on a catalog another process holds waits instead of failing.
func dsn(path string, opts Options, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(opts.BusyTimeout.Milliseconds(), 10)+")")
	if readOnly {
		// A reader sets nothing that concerns writes: the journal mode is
		// the file's, set by the write pool (or checked by openReads), and
		// synchronous and foreign_keys govern writes a query_only connection
		// cannot make. Each pragma is a statement run as the connection opens.
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(NORMAL)")
		q.Add("_pragma", "foreign_keys(1)")
		q.Set("_txlock", "immediate")
		// The hash indexes take random keys, so every chunk dirties pages all
		// over them. A 16 MiB page cache keeps a 100,000-file catalog's
		// indexes in memory (64 MiB measured no faster and cost 100 MB of
		// RSS), and checkpointing every 64 MiB of WAL instead of 4 MiB copies
		// a page rewritten by many chunks back to the file once.
		//
		// Temporary storage stays in files: building an index, or a
		// migration, sorts the whole table, and in memory that took 285 MB
		// for a million files (72 MB with files, no slower). Statement
		// journals stay in memory up to stmtJournalSpill (stmtjournal.go).
		q.Add("_pragma", "cache_size(-16384)")
		q.Add("_pragma", "wal_autocheckpoint(16384)")
	}
	return fileURI(path, q)
}

// fileURI returns the file: URI of path with the query q.
func fileURI(path string, q url.Values) string {
	u := url.URL{Scheme: "file", Opaque: (&url.URL{Path: path}).EscapedPath(), RawQuery: q.Encode()}
	return u.String()
}

func (d *DB) openPools(ctx context.Context) error {
	if d.readOnly {
		return d.openReadOnly(ctx)
	}
	if d.opts.OnlyReads && d.opts.MustExist {
		if r := d.openReads(ctx); r != nil {
			d.write, d.read = nil, r
			d.recordIdentity()
			return nil
		}
	}
	if !d.opts.MustExist {
		if err := createPrivate(d.path); err != nil {
			return err
		}
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(d.opts.BusyTimeout.Milliseconds(), 10)+")")
	pr, err := probe(ctx, d.path, fileURI(d.path, q), d.opts.MustExist)
	if err != nil {
		return err
	}
	defer pr.Close()
	w, err := d.openWrite(ctx)
	if err != nil {
		return err
	}
	if err := migrate(ctx, w, SQLite, !d.opts.MustExist); err != nil {
		w.Close()
		return fmt.Errorf("catalog %s: %w", d.path, err)
	}
	r := d.newReadPool()
	if err := checkWAL(ctx, r, d.path, d.opts.BusyTimeout); err != nil {
		w.Close()
		r.Close()
		return err
	}
	d.write, d.read = w, r
	d.recordIdentity()
	return nil
}

// openWrite opens the write pool and checks that the catalog is in WAL mode
// (its DSN switches a new catalog to it).
func (d *DB) openWrite(ctx context.Context) (*sqlx.DB, error) {
	w, err := sqlx.Open(DriverName, dsn(d.path, d.opts, false))
	if err != nil {
		return nil, fmt.Errorf("open catalog %s: %w", d.path, err)
	}
	// SQLite has one writer at a time. A single connection makes Go queue
	// writers instead of letting them fight over the file lock.
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(d.opts.ConnMaxLifetime)
	if err := checkWAL(ctx, w, d.path, d.opts.BusyTimeout); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// newReadPool returns the read pool, not yet connected.
func (d *DB) newReadPool() *sqlx.DB {
	// sqlx.Open only parses the DSN, which dsn built: it cannot fail here.
	r := sqlx.MustOpen(DriverName, dsn(d.path, d.opts, true))
	r.SetMaxOpenConns(d.opts.ReadConns)
	r.SetMaxIdleConns(d.opts.ReadConns)
	r.SetConnMaxLifetime(d.opts.ConnMaxLifetime)
	return r
}

// openReads opens the read pool alone for a command that only reads an
// existing catalog (OnlyReads and MustExist), the start of every query, in
// one statement on one connection, which the pool keeps for the queries
// that follow: the file is in WAL mode and its migration history is this
// binary's, first name and latest version. It returns nil whenever that is
// not plainly so (not a catalog, another program's schema_migrations, an
// older schema to migrate, another journal mode, a busy or corrupt file):
// Open then goes the long way, probe, write pool, migration and read pool,
// which says precisely what is wrong or fixes it. The write pool opens on
// first use (writePool): such commands mostly never write.
//
// Opening the three pools' connections each parsed the schema: this saves
// two connections and four round trips, a third of a query's start-up.
func (d *DB) openReads(ctx context.Context) *sqlx.DB {
	ms, err := loadMigrations(SQLite)
	if err != nil {
		return nil
	}
	r := d.newReadPool()
	var mode, first sql.NullString
	var version sql.NullInt64
	err = r.QueryRowContext(ctx, `SELECT
		(SELECT journal_mode FROM pragma_journal_mode),
		(SELECT name FROM schema_migrations WHERE version = 1),
		(SELECT MAX(version) FROM schema_migrations)`).Scan(&mode, &first, &version)
	if err != nil || mode.String != "wal" || first.String != ms[0].name || version.Int64 != int64(len(ms)) {
		r.Close()
		return nil
	}
	return r
}

// writePool returns the write pool, opening it on first use when Open left
// it closed (see openReads). Called with mu held, shared or exclusively.
func (d *DB) writePool(ctx context.Context) (*sqlx.DB, error) {
	d.writeMu.Lock()
	defer d.writeMu.Unlock()
	if d.write == nil {
		w, err := d.openWrite(ctx)
		if err != nil {
			return nil, err
		}
		d.write = w
	}
	return d.write, nil
}

// openReadOnly opens the read pool alone on a catalog that nobody can write.
// With no -wal or -shm beside it the file holds the whole catalog and cannot
// change, so SQLite reads it as immutable: it needs no -shm, which it could
// not create here. Otherwise it reads it read-only with the log, as usual.
// Nothing can be migrated, so the schema must be this binary's.
func (d *DB) openReadOnly(ctx context.Context) error {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(d.opts.BusyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "query_only(1)")
	q.Set("mode", "ro")
	if !exists(d.path+"-wal") && !exists(d.path+"-shm") {
		q.Set("immutable", "1")
	}
	uri := fileURI(d.path, q)
	pr, err := probe(ctx, d.path, uri, true)
	if err != nil {
		return err
	}
	defer pr.Close()
	r, err := sqlx.Open(DriverName, uri)
	if err != nil {
		return fmt.Errorf("open catalog %s: %w", d.path, err)
	}
	r.SetMaxOpenConns(d.opts.ReadConns)
	r.SetMaxIdleConns(d.opts.ReadConns)
	r.SetConnMaxLifetime(d.opts.ConnMaxLifetime)
	v, err := SchemaVersion(ctx, r)
	switch latest := LatestVersion(); {
	case err != nil:
		err = fmt.Errorf("open catalog %s: read schema version: %w", d.path, err)
	case v > latest:
		err = fmt.Errorf("catalog %s: %w: it has version %d, this binary knows up to %d; upgrade indexer", d.path, ErrSchemaTooNew, v, latest)
	case v < latest:
		err = fmt.Errorf("catalog %s has schema version %d and this indexer reads %d; it is on a read-only file system, so it cannot be upgraded: open it once where it can be written", d.path, v, latest)
	}
	if err != nil {
		r.Close()
		return err
	}
	d.read = r
	return nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// checkWAL verifies the journal mode really is WAL: SQLite answers with the
// mode it kept, and silently keeps another one on some file systems.
//
// The first connection to a new catalog switches the file to WAL (the DSN's
// journal_mode pragma runs as the connection opens). That switch needs the file
// to itself and SQLite does not call the busy handler for it, so when two
// connections or processes open a new catalog at the same moment one of them
// gets SQLITE_BUSY at once. It is retried here, within the busy timeout, on a
// fresh connection; after the first switch WAL is a property of the file and
// the pragma takes no lock.
func checkWAL(ctx context.Context, x *sqlx.DB, path string, timeout time.Duration) error {
	var mode string
	deadline := time.Now().Add(timeout)
	for {
		err := x.GetContext(ctx, &mode, "PRAGMA journal_mode")
		if err == nil {
			break
		}
		if IsCorrupt(err) {
			return fmt.Errorf("%s: %w", path, ErrNotDatabase)
		}
		if !IsBusy(err) || time.Now().After(deadline) {
			return fmt.Errorf("open catalog %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("open catalog %s: %w", path, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if mode != "wal" {
		return fmt.Errorf("catalog %s: journal mode is %q, want \"wal\" (is it on a network file system?)", path, mode)
	}
	return nil
}

// WithWrite runs fn with the write pool. The pool is valid only during fn.
func (d *DB) WithWrite(fn func(*sqlx.DB) error) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return ErrClosed
	}
	if d.readOnly {
		return fmt.Errorf("catalog %s: %w", d.path, ErrReadOnly)
	}
	w, err := d.writePool(context.Background())
	if err != nil {
		return err
	}
	return fn(w)
}

// WithRead runs fn with the read pool. The pool is valid only during fn.
func (d *DB) WithRead(fn func(*sqlx.DB) error) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return ErrClosed
	}
	return fn(d.read)
}

// Stats describes both pools.
type Stats struct {
	Write   sql.DBStats
	Read    sql.DBStats
	Reopens int
}

// Stats returns the pools' statistics.
func (d *DB) Stats() Stats {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return Stats{Reopens: d.reopens}
	}
	s := Stats{Read: d.read.Stats(), Reopens: d.reopens}
	d.writeMu.Lock()
	if d.write != nil {
		s.Write = d.write.Stats()
	}
	d.writeMu.Unlock()
	return s
}

// Replace closes the pools, runs swap while no connection to the catalog is
// open in this process and no other process holds it, then reopens the pools
// and migrates. swap typically moves a new file into place. When wait is false
// and another process holds the catalog, Replace returns ErrInUse at once;
// otherwise it waits until ctx is done. A waiting Replace keeps its shared
// hold on the catalog, so two handles waiting in Replace at the same time
// wait for each other until one's ctx ends. swap is not run when the catalog
// path no longer names a regular file (recheckPath); a catalog opened
// read-only cannot be replaced (ErrReadOnly).
//
// Every holder of d sees the new pools from its next WithRead or WithWrite;
// calls in flight finish on the old pools first.
func (d *DB) Replace(ctx context.Context, wait bool, swap func(path string) error) error {
	if d.readOnly {
		return fmt.Errorf("catalog %s: %w", d.path, ErrReadOnly)
	}
	if d.dialect.Shared {
		return fmt.Errorf("catalog %s: %w", d.path, ErrServer)
	}
	if err := d.lockUnheld(ctx, wait); err != nil {
		return err
	}
	defer d.mu.Unlock()
	if err := d.lock.upgrade(ctx, wait); err != nil {
		return err
	}
	defer d.lock.downgrade()

	// Fold the WAL into the file so that nothing of it outlives the swap.
	w, err := d.writePool(ctx)
	if err != nil {
		return err
	}
	if _, err := w.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return fmt.Errorf("checkpoint before replace: %w", err)
	}
	werr, rerr := w.Close(), d.read.Close()
	if err := errors.Join(werr, rerr); err != nil {
		return fmt.Errorf("close pools: %w", err)
	}
	d.reopens++
	swapErr := recheckPath(d.path)
	if swapErr == nil {
		swapErr = swap(d.path)
	}
	// Reopen whatever is in place now, even if swap failed: the process must
	// keep a usable catalog.
	// Not ctx: once the file is swapped, an interrupt must not leave this
	// process without a catalog.
	if err := d.openPools(context.WithoutCancel(ctx)); err != nil {
		// d is closed for good: release the lock now, as Close will not, so
		// that another handle or process can restore a good file.
		d.closed = true
		d.lock.close()
		return errors.Join(swapErr, fmt.Errorf("reopen catalog: %w", err))
	}
	d.reopened()
	return swapErr
}

// Close closes the pools and releases the lock. It is safe to call twice.
func (d *DB) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	err := d.read.Close()
	if d.write != nil {
		err = errors.Join(d.write.Close(), err)
	}
	d.lock.close()
	return err
}
