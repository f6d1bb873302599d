package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"
)

// PostgresDriverName is the database/sql driver of a PostgreSQL catalog,
// pgx's adapter; sqlx's Rebind writes $1, $2... for it.
const PostgresDriverName = "pgx"

// ErrServer is returned by CatalogPath for a PostgreSQL catalog, which is no
// file: what works on the file (a copy, a swap) does not apply to it.
var ErrServer = errors.New("the catalog is a PostgreSQL database, not a file")

// IsPostgres reports whether location names a PostgreSQL catalog: a URL of
// scheme postgres or postgresql.
func IsPostgres(location string) bool {
	s := URLScheme(location)
	return s == "postgres" || s == "postgresql"
}

// openPostgres opens the catalog on the PostgreSQL server that location
// names and migrates it. There is no file and no lock: the server arbitrates
// between the processes of every machine.
func openPostgres(ctx context.Context, location string, opts Options) (*DB, error) {
	name := Redact(location)
	cfg, err := pgx.ParseConfig(location)
	if err != nil {
		// pgx's message may quote the URL: name it redacted instead.
		return nil, fmt.Errorf("catalog %s is not a valid PostgreSQL URL: %s", name, strings.ReplaceAll(err.Error(), location, name))
	}
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["application_name"] = "indexer"
	// A statement waits for a lock no longer than a SQLite connection
	// waits for the file; the unit of work then retries or reports.
	cfg.RuntimeParams["lock_timeout"] = fmt.Sprint(opts.BusyTimeout.Milliseconds())
	d := &DB{path: name, opts: opts, dialect: Postgres}
	connector := pgConnector{stdlib.GetConnector(*cfg, stdlib.OptionAfterConnect(func(_ context.Context, c *pgx.Conn) error {
		registerTypes(c.TypeMap())
		return nil
	}))}
	// The server runs writers side by side (rows of different machines
	// never conflict), so the write pool is as wide as the read pool; both
	// stay small, as every connection is a server process.
	w := sqlx.NewDb(sql.OpenDB(connector), PostgresDriverName)
	w.SetMaxOpenConns(opts.ReadConns)
	w.SetMaxIdleConns(opts.ReadConns)
	w.SetConnMaxLifetime(opts.ConnMaxLifetime)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open catalog %s: %s", name, strings.ReplaceAll(err.Error(), location, name))
	}
	if opts.OnlyReads && opts.MustExist {
		// A query must not create a catalog, nor upgrade one under other
		// machines' feet without a writer asking for it.
		if err := checkPostgresCatalog(ctx, w); err != nil {
			w.Close()
			return nil, fmt.Errorf("catalog %s: %w", name, err)
		}
	}
	if err := migrate(ctx, w, Postgres, !opts.MustExist); err != nil {
		w.Close()
		return nil, fmt.Errorf("catalog %s: %w", name, err)
	}
	r := sqlx.NewDb(sql.OpenDB(connector), PostgresDriverName)
	r.SetMaxOpenConns(opts.ReadConns)
	r.SetMaxIdleConns(opts.ReadConns)
	r.SetConnMaxLifetime(opts.ConnMaxLifetime)
	d.write, d.read = w, r
	return d, nil
}

// checkPostgresCatalog refuses a database that holds no catalog, or another
// program's tables, without changing anything.
func checkPostgresCatalog(ctx context.Context, x *sqlx.DB) error {
	var tables []string
	if err := x.SelectContext(ctx, &tables, Postgres.tables); err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	switch {
	case len(tables) == 0:
		return ErrNotExist
	case !contains(tables, "schema_migrations"):
		return ErrNotCatalog
	}
	ms, err := loadMigrations(Postgres)
	if err != nil {
		return err
	}
	return checkHistory(ctx, x, ms)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// pgConnector hands out pgx's connections with pgConn around them.
type pgConnector struct{ driver.Connector }

func (c pgConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return pgConn{conn.(*stdlib.Conn)}, nil
}

// pgConn is pgx's connection with one change: every string argument is
// passed as bytes. pgx sends a Go string in text format whatever the
// parameter's type, and a path is bytes that need not be UTF-8 (see
// pgtypes.go); as bytes it reaches a bytea parameter exactly, and a text
// one as the same text (the server still refuses text that is not UTF-8).
type pgConn struct{ *stdlib.Conn }

func (c pgConn) CheckNamedValue(nv *driver.NamedValue) error {
	if s, ok := nv.Value.(string); ok {
		nv.Value = []byte(s)
	}
	return c.Conn.CheckNamedValue(nv)
}

// ServerInfo describes the PostgreSQL server of a shared catalog.
type ServerInfo struct {
	Version        string // the server's version, as server_version says it
	DatabaseBytes  int64  // the catalog database's size on disk
	Connections    int    // connections to the catalog database, of every client
	MaxConnections int    // the server's max_connections
}

// ServerInfo returns figures of a shared catalog's server; on a catalog
// file it returns ErrNotServer.
func (d *DB) ServerInfo(ctx context.Context) (ServerInfo, error) {
	var s ServerInfo
	if !d.dialect.Shared {
		return s, ErrNotServer
	}
	err := d.WithRead(func(r *sqlx.DB) error {
		return r.QueryRowContext(ctx, `SELECT current_setting('server_version'), pg_database_size(current_database()),
			(SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database()),
			current_setting('max_connections')::int`).Scan(&s.Version, &s.DatabaseBytes, &s.Connections, &s.MaxConnections)
	})
	if err != nil {
		return s, fmt.Errorf("read server figures: %w", err)
	}
	return s, nil
}

// ErrNotServer is returned by ServerInfo for a catalog file.
var ErrNotServer = errors.New("the catalog is a file, not a PostgreSQL database")
