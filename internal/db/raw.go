package db

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"
	"unsafe"

	"modernc.org/libc"
	"modernc.org/libc/sys/types"
	sqlite3 "modernc.org/sqlite/lib"
)

// A raw connection reads an SQLite catalog through SQLite's C API, as
// modernc.org/sqlite/lib exposes it, instead of database/sql and the
// driver: for a statement of hundreds of thousands of rows (dupes). Through
// database/sql a row cost about 1.2 µs above what SQLite spends on it: per
// column a type call and a value call, each taking the connection's mutex,
// a new string or slice, and its conversion into the destination. A raw
// connection is opened without that mutex (it is never shared between
// goroutines), and its columns are read in place, copied nowhere unless the
// caller copies them: a fifth of the cost.
//
// It is a connection of its own, opened read-only on the catalog's file
// and holding one read transaction from Begin to Close, so that what its
// statements read is one snapshot. It has none of the functions the pools
// register (see functions.go): statements that call them need the pools.

// ptrSize is the size of a C pointer, for the out parameters of open and
// prepare.
const ptrSize = types.Size_t(unsafe.Sizeof(uintptr(0)))

var errNoMemory = errors.New("sqlite: out of memory")

// cPointer returns p, an address in SQLite's memory (C memory, which the
// Go collector neither moves nor frees), as a pointer.
func cPointer(p uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) }

// RawConn is a read-only connection to an SQLite catalog in one read
// transaction; see OpenRaw. It must be used by one goroutine at a time.
type RawConn struct {
	tls *libc.TLS
	db  uintptr
}

// rawCacheSize is a raw connection's page cache: 256 KiB, against SQLite's
// 2 MiB. Its statements walk an index once and read each page once, so a
// larger cache holds nothing they read again; it only takes fresh memory
// for every page read until it is full, a page fault each (about 15 µs on
// this project's 2-core VMs). dupes --json on the bench's 100,000-file
// catalog: 111 ms against 128-131 ms, 3,300 page faults against 4,200; on
// 1,000,000 rows 0.47-0.49 s against 0.49-0.50 s. The setting also bounds
// what a sort holds in memory before it spills to temporary files (to
// SQLite's least, 1 MiB); dupes on 1,000,000 rows measured no slower.
const rawCacheSize = "-256"

// ErrNoRaw is returned by OpenRaw for a catalog that has no raw connection:
// a PostgreSQL catalog, or one on a read-only file system.
var ErrNoRaw = errors.New("catalog has no raw connection")

// OpenRaw opens a raw connection to the catalog and begins its read
// transaction. Call it within WithRead (a unit of work), which keeps the
// file from being replaced meanwhile; Close it before that returns.
func (d *DB) OpenRaw(ctx context.Context) (*RawConn, error) {
	if d.dialect.Name != SQLite.Name || d.readOnly {
		return nil, ErrNoRaw
	}
	c := &RawConn{tls: libc.NewTLS()}
	name, err := libc.CString(fileURI(d.path, url.Values{}))
	if err != nil {
		c.tls.Close()
		return nil, err
	}
	defer libc.Xfree(c.tls, name)
	pdb := libc.Xmalloc(c.tls, ptrSize)
	if pdb == 0 {
		c.tls.Close()
		return nil, errNoMemory
	}
	rc := sqlite3.Xsqlite3_open_v2(c.tls, name, pdb,
		sqlite3.SQLITE_OPEN_READONLY|sqlite3.SQLITE_OPEN_NOMUTEX|sqlite3.SQLITE_OPEN_URI, 0)
	c.db = *(*uintptr)(cPointer(pdb))
	libc.Xfree(c.tls, pdb)
	if rc != sqlite3.SQLITE_OK {
		err := c.errorOf(rc)
		c.Close()
		return nil, fmt.Errorf("open catalog %s: %w", d.path, err)
	}
	sqlite3.Xsqlite3_busy_timeout(c.tls, c.db, int32(d.opts.BusyTimeout.Milliseconds()))
	if err := c.exec(ctx, "PRAGMA cache_size = "+rawCacheSize); err != nil {
		c.Close()
		return nil, err
	}
	// A listing too large to hold is sorted by SQLite (repo's sortedDupes),
	// in runs that worker threads sort while the statement reads on, as an
	// index build does (see sortThreads): on 10,000,000 generated rows,
	// dupes --json 16.3 s with one thread, 12.9 s with two. The connection
	// is closed after one listing, so the setting goes with it; what stays
	// is modernc libc's 216 bytes per worker (see withSortThreads), about
	// one per MiB sorted, and only a listing too large to hold sorts; a
	// server gives none (SingleThreadedSorts).
	if err := c.exec(ctx, fmt.Sprintf("PRAGMA threads = %d", sorterThreads())); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.exec(ctx, "BEGIN"); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Close ends the read transaction and closes the connection.
func (c *RawConn) Close() error {
	var err error
	if c.db != 0 {
		// Closing a connection rolls its transaction back; a statement
		// left unfinalized would keep it open, and Query's rows finalize
		// theirs on Close.
		if rc := sqlite3.Xsqlite3_close_v2(c.tls, c.db); rc != sqlite3.SQLITE_OK {
			err = c.errorOf(rc)
		}
		c.db = 0
	}
	c.tls.Close()
	return err
}

// RawError is an error of a raw connection: SQLite's result code and
// message. Code, and so IsBusy, IsCorrupt and their kin, read its code.
type RawError struct {
	code int
	msg  string
}

func (e *RawError) Error() string { return fmt.Sprintf("sqlite: %s (%d)", e.msg, e.code) }

// errorOf returns the error of result code rc, with the connection's
// message.
func (c *RawConn) errorOf(rc int32) error {
	msg := ""
	if c.db != 0 {
		msg = libc.GoString(sqlite3.Xsqlite3_errmsg(c.tls, c.db))
	}
	if msg == "" {
		msg = libc.GoString(sqlite3.Xsqlite3_errstr(c.tls, rc))
	}
	return &RawError{code: int(rc), msg: msg}
}

// exec runs a statement of no rows.
func (c *RawConn) exec(ctx context.Context, query string) error {
	r, err := c.Query(ctx, query)
	if err != nil {
		return err
	}
	for r.Next() {
	}
	return r.Close()
}

// RawRows are the rows of a statement on a raw connection.
type RawRows struct {
	ctx  context.Context
	c    *RawConn
	stmt uintptr
	rows int
	err  error
	// stopInterrupt ends interruptOnDone's watch of ctx.
	stopInterrupt func()
}

// interruptEvery is how often a raw statement whose context is done is
// interrupted again, until its rows are closed: SQLite forgets an
// interrupt that comes while none of the connection's statements runs, as
// between Query and the first step.
const interruptEvery = 5 * time.Millisecond

// interruptOnDone interrupts what c runs (sqlite3_interrupt) once ctx is
// done, and again every interruptEvery, until the function it returns is
// called, which waits for an interrupt under way. A statement interrupted
// so ends at its next step, even one that works long before its first row
// (a sort, a GROUP BY), where Next's checks of ctx never come.
func (c *RawConn) interruptOnDone(ctx context.Context) func() {
	if ctx.Done() == nil {
		return func() {}
	}
	pdb := c.db
	var mu sync.Mutex
	stopped := false
	stop := make(chan struct{})
	stopAfter := context.AfterFunc(ctx, func() {
		// A TLS of its own: c's is in use by the statement interrupted,
		// and a libc.TLS is not safe for concurrent use.
		tls := libc.NewTLS()
		defer tls.Close()
		for {
			mu.Lock()
			if stopped {
				mu.Unlock()
				return
			}
			sqlite3.Xsqlite3_interrupt(tls, pdb)
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-time.After(interruptEvery):
			}
		}
	})
	return func() {
		stopAfter()
		mu.Lock()
		stopped = true
		mu.Unlock()
		close(stop)
	}
}

// Query prepares query, binds args (int64, string or []byte) to its
// parameters in order and returns its rows. The caller must Close them.
func (c *RawConn) Query(ctx context.Context, query string, args ...any) (*RawRows, error) {
	q, err := libc.CString(query)
	if err != nil {
		return nil, err
	}
	defer libc.Xfree(c.tls, q)
	pstmt := libc.Xmalloc(c.tls, ptrSize)
	if pstmt == 0 {
		return nil, errNoMemory
	}
	defer libc.Xfree(c.tls, pstmt)
	if rc := sqlite3.Xsqlite3_prepare_v2(c.tls, c.db, q, -1, pstmt, 0); rc != sqlite3.SQLITE_OK {
		return nil, fmt.Errorf("prepare %q: %w", query, c.errorOf(rc))
	}
	r := &RawRows{ctx: ctx, c: c, stmt: *(*uintptr)(cPointer(pstmt)), stopInterrupt: c.interruptOnDone(ctx)}
	for i, a := range args {
		if err := r.bind(int32(i+1), a); err != nil {
			r.Close()
			return nil, err
		}
	}
	return r, nil
}

// bind binds a to parameter i (from 1). Text and blobs are copied by
// SQLite (SQLITE_TRANSIENT).
func (r *RawRows) bind(i int32, a any) error {
	c := r.c
	var rc int32
	switch v := a.(type) {
	case int64:
		rc = sqlite3.Xsqlite3_bind_int64(c.tls, r.stmt, i, v)
	case string:
		rc = r.bindBytes(i, []byte(v), true)
	case []byte:
		rc = r.bindBytes(i, v, false)
	default:
		return fmt.Errorf("bind parameter %d: a %T, not int64, string or []byte", i, a)
	}
	if rc != sqlite3.SQLITE_OK {
		return fmt.Errorf("bind parameter %d: %w", i, c.errorOf(rc))
	}
	return nil
}

// bindBytes binds b as text or as a blob.
func (r *RawRows) bindBytes(i int32, b []byte, text bool) int32 {
	c := r.c
	p := libc.Xmalloc(c.tls, types.Size_t(len(b)+1))
	if p == 0 {
		return sqlite3.SQLITE_NOMEM
	}
	defer libc.Xfree(c.tls, p)
	copy(unsafe.Slice((*byte)(cPointer(p)), len(b)), b)
	transient := ^uintptr(0) // SQLITE_TRANSIENT: SQLite copies the value
	if text {
		return sqlite3.Xsqlite3_bind_text(c.tls, r.stmt, i, p, int32(len(b)), transient)
	}
	return sqlite3.Xsqlite3_bind_blob(c.tls, r.stmt, i, p, int32(len(b)), transient)
}

// Next steps to the next row and reports whether there is one; false at
// the end, on an error (see Err) or once the context is done.
func (r *RawRows) Next() bool {
	if r.err != nil || r.stmt == 0 {
		return false
	}
	// Checking the context costs more than a step: every 1,024 rows.
	if r.rows%1024 == 0 {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			return false
		}
	}
	switch rc := sqlite3.Xsqlite3_step(r.c.tls, r.stmt); rc {
	case sqlite3.SQLITE_ROW:
		r.rows++
		return true
	case sqlite3.SQLITE_DONE:
		return false
	case sqlite3.SQLITE_INTERRUPT:
		// Only interruptOnDone interrupts a raw connection.
		r.err = r.ctx.Err()
		if r.err == nil {
			r.err = r.c.errorOf(rc)
		}
		return false
	default:
		r.err = r.c.errorOf(rc)
		return false
	}
}

// Bytes returns column i (from 0) of the row as bytes, text or blob, nil
// for NULL. They are SQLite's, valid until the next call of Next or Close:
// copy what must outlive them.
func (r *RawRows) Bytes(i int) []byte {
	p := sqlite3.Xsqlite3_column_blob(r.c.tls, r.stmt, int32(i))
	n := sqlite3.Xsqlite3_column_bytes(r.c.tls, r.stmt, int32(i))
	if p == 0 || n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(cPointer(p)), n)
}

// Int64 returns column i (from 0) of the row as an integer, 0 for NULL.
func (r *RawRows) Int64(i int) int64 {
	return sqlite3.Xsqlite3_column_int64(r.c.tls, r.stmt, int32(i))
}

// Err returns the error that ended Next, if any.
func (r *RawRows) Err() error { return r.err }

// Close finalizes the statement.
func (r *RawRows) Close() error {
	if r.stopInterrupt != nil {
		r.stopInterrupt()
		r.stopInterrupt = nil
	}
	if r.stmt != 0 {
		sqlite3.Xsqlite3_finalize(r.c.tls, r.stmt)
		r.stmt = 0
	}
	return r.err
}
