package db

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
)

// Options tune the pools. Start from DefaultOptions or OptionsFromEnv.
type Options struct {
	// BusyTimeout is how long SQLite itself waits for a lock before it answers
	// SQLITE_BUSY.
	BusyTimeout time.Duration
	// ReadConns caps the read pool.
	ReadConns int
	// ConnMaxLifetime recycles pooled connections.
	ConnMaxLifetime time.Duration
	// BusyRetries is how often the unit of work retries a transaction that still
	// met SQLITE_BUSY after BusyTimeout.
	BusyRetries int
	// MustExist refuses to create a catalog: in a missing file, or in an
	// empty one.
	MustExist bool
	// UnlockIdle holds the catalog's shared lock only between Acquire and its
	// release instead of from Open to Close, so that a restore in another
	// process can replace the file while this one is idle (see lease.go).
	// Every use of such a DB must run inside Acquire.
	UnlockIdle bool
	// OnlyReads says the caller never writes to the catalog (a query, a
	// backup). On a read-only file system, where nobody can write the catalog,
	// Open then opens it read-only, without creating a lock file or migrating
	// it; elsewhere it changes nothing. Without it, Open refuses a catalog on a
	// read-only file system.
	OnlyReads bool
}

// withDefaults fills the zero fields that must not be zero.
func (o Options) withDefaults() Options {
	def := DefaultOptions()
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = def.BusyTimeout
	}
	if o.ReadConns <= 0 {
		o.ReadConns = def.ReadConns
	}
	return o
}

// DefaultOptions returns the settings used when the environment says nothing.
func DefaultOptions() Options {
	return Options{
		// Long enough to outwait another process's chunk commit (milliseconds)
		// many times over, short enough that a user facing a lock held by a
		// foreign program hears about it soon.
		BusyTimeout: 5 * time.Second,
		// WAL readers block neither each other nor the writer. One connection per
		// CPU, at least four, lets parallel queries run without queueing while
		// keeping the number of page caches small.
		ReadConns: max(4, runtime.NumCPU()),
		// Connections are cheap to reopen; recycling bounds what a long-lived
		// server's page caches hold.
		ConnMaxLifetime: time.Hour,
		// Each attempt already waited BusyTimeout inside SQLite, so a few
		// retries with backoff are plenty before the user is told.
		BusyRetries: 3,
	}
}

// OptionsFromEnv returns DefaultOptions overridden by INDEXER_BUSY_TIMEOUT
// (a Go duration), INDEXER_READ_CONNS, INDEXER_CONN_MAX_LIFETIME (a duration)
// and INDEXER_BUSY_RETRIES. A malformed value is an error naming the variable.
func OptionsFromEnv() (Options, error) {
	o := DefaultOptions()
	if err := envDuration("INDEXER_BUSY_TIMEOUT", &o.BusyTimeout); err != nil {
		return o, err
	}
	if err := envDuration("INDEXER_CONN_MAX_LIFETIME", &o.ConnMaxLifetime); err != nil {
		return o, err
	}
	if err := envInt("INDEXER_READ_CONNS", 1, &o.ReadConns); err != nil {
		return o, err
	}
	if err := envInt("INDEXER_BUSY_RETRIES", 0, &o.BusyRetries); err != nil {
		return o, err
	}
	return o, nil
}

func envDuration(name string, dst *time.Duration) error {
	v := os.Getenv(name)
	if v == "" {
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return fmt.Errorf("%s=%q is not a duration such as 5s or 1m", name, v)
	}
	*dst = d
	return nil
}

func envInt(name string, least int, dst *int) error {
	v := os.Getenv(name)
	if v == "" {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < least {
		return fmt.Errorf("%s=%q is not a whole number of at least %d", name, v, least)
	}
	*dst = n
	return nil
}
