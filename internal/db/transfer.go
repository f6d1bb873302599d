package db

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/dto"
)

// A shared catalog is backed up as a standalone SQLite catalog file, which
// can be taken offline and opened anywhere, and a SQLite backup can be
// restored into a shared catalog: both copy the rows of the catalog's
// tables, with their ids, from one engine's transaction to the other's.

// copiedTables are the tables whose rows make a catalog, in an order that
// keeps foreign keys satisfied. events and deferred_indexes describe one
// engine's recent writes and indexes, not the catalog: the copy starts a new
// history (an epoch event), and has every index.
// Each is copied in the order of its key; those with an id have an
// identity on PostgreSQL that goes on after the rows copied.
var copiedTables = []struct {
	name, order string
	serial      bool
}{{"scans", "id", true}, {"files", "id", true}, {"dirs", "id", true}, {"volumes", "machine", false}, {"scan_roots", "scan_id, root", false}}

// byteText are the columns that hold paths and names: bytea on PostgreSQL,
// text on SQLite, where a []byte would be stored as a blob and compare
// unequal to the same path as text.
var byteText = map[string]bool{"path": true, "archive_path": true, "name": true, "parent": true, "root": true, "mount_point": true}

// copyRows copies every row of the catalog tables read through src into
// dst, which holds none yet, and returns how many it copied.
func copyRows(ctx context.Context, src sqlx.QueryerContext, dst *sqlx.Tx) (int64, error) {
	toSQLite := !DialectOf(dst).Shared
	var n int64
	for _, t := range copiedTables {
		table := t.name
		rows, err := src.QueryContext(ctx, "SELECT * FROM "+table+" ORDER BY "+t.order)
		if err != nil {
			return n, fmt.Errorf("read %s: %w", table, err)
		}
		cols, err := rows.Columns()
		if err != nil {
			rows.Close()
			return n, err
		}
		st, err := dst.PreparexContext(ctx, dst.Rebind("INSERT INTO "+table+" ("+strings.Join(cols, ", ")+") VALUES ("+
			strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ")+")"))
		if err != nil {
			rows.Close()
			return n, fmt.Errorf("write %s: %w", table, err)
		}
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				break
			}
			if toSQLite {
				for i, c := range cols {
					if b, ok := vals[i].([]byte); ok && byteText[c] {
						vals[i] = string(b)
					}
				}
			}
			if _, err = st.ExecContext(ctx, vals...); err != nil {
				rows.Close()
				st.Close()
				return n, fmt.Errorf("write %s: %w", table, err)
			}
			n++
		}
		err = rows.Err()
		rows.Close()
		st.Close()
		if err != nil {
			return n, fmt.Errorf("read %s: %w", table, err)
		}
		if !toSQLite && t.serial {
			// Rows came with their ids: the identity goes on after them.
			if _, err := dst.ExecContext(ctx, "SELECT setval(pg_get_serial_sequence($1, 'id'), COALESCE((SELECT MAX(id) FROM "+
				table+"), 0) + 1, false)", table); err != nil {
				return n, fmt.Errorf("write %s: %w", table, err)
			}
		}
	}
	return n, nil
}

// backupServer writes a standalone SQLite catalog at dst (a new or empty
// file) holding the rows of the shared catalog d, all read in one snapshot,
// and returns the counts read in that same snapshot. dst ends up in DELETE
// mode; it is not fsynced.
func (d *DB) backupServer(ctx context.Context, dst string) (dto.Counts, error) {
	x, err := sqlx.Open(DriverName, fileURI(dst, url.Values{"_pragma": {"foreign_keys(1)"}}))
	if err != nil {
		return dto.Counts{}, err
	}
	defer x.Close()
	x.SetMaxOpenConns(1)
	if err := migrate(ctx, x, SQLite, true); err != nil {
		return dto.Counts{}, fmt.Errorf("create %s: %w", dst, err)
	}
	var counts dto.Counts
	err = d.WithRead(func(r *sqlx.DB) error {
		src, err := r.BeginTxx(ctx, Postgres.ReadTx())
		if err != nil {
			return fmt.Errorf("begin snapshot: %w", err)
		}
		defer src.Rollback()
		if counts, err = countRows(ctx, src, LatestVersion()); err != nil {
			return err
		}
		out, err := x.BeginTxx(ctx, nil)
		if err != nil {
			return err
		}
		defer out.Rollback()
		if _, err := copyRows(ctx, src, out); err != nil {
			return err
		}
		if _, err := RecordEvent(ctx, out, []string{EpochTag}); err != nil {
			return err
		}
		return out.Commit()
	})
	if err != nil {
		return dto.Counts{}, err
	}
	if err := x.Close(); err != nil {
		return dto.Counts{}, err
	}
	return counts, toRollbackJournal(ctx, dst)
}

// RestoreFrom replaces every row of the shared catalog d with those of the
// standalone SQLite catalog at src, of this binary's schema version (the
// caller checks and migrates it first), in one transaction: other machines
// see the old catalog or the new one, never a mix. It returns the counts of
// the rows now in d, read in that transaction, and commits only when they
// are want's (Files, Deleted and Hashes). On a catalog file it returns
// ErrNotServer: a file is restored by replacing it (see Replace).
func (d *DB) RestoreFrom(ctx context.Context, src string, want dto.Counts) (dto.Counts, error) {
	if !d.dialect.Shared {
		return dto.Counts{}, ErrNotServer
	}
	x, err := openImmutable(src)
	if err != nil {
		return dto.Counts{}, err
	}
	defer x.Close()
	var counts dto.Counts
	restore := func(w *sqlx.DB) error {
		in, err := x.BeginTxx(ctx, SQLite.ReadTx())
		if err != nil {
			return err
		}
		defer in.Rollback()
		tx, err := w.BeginTxx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		// Every other writer waits until this commits, and then finds the
		// restored catalog.
		if _, err := tx.ExecContext(ctx, "LOCK TABLE scans, files, dirs, volumes, scan_roots, file_totals, contents, content_totals IN ACCESS EXCLUSIVE MODE"); err != nil {
			return err
		}
		// TRUNCATE fires no row trigger: the summary the triggers keep
		// (file_totals, contents, content_totals) is emptied with the
		// rows, and the copy's inserts build it again.
		if _, err := tx.ExecContext(ctx, "TRUNCATE dirs, files, scans, volumes, scan_roots, file_totals, contents, content_totals"); err != nil {
			return err
		}
		if _, err := copyRows(ctx, in, tx); err != nil {
			return err
		}
		if counts, err = countRows(ctx, tx, LatestVersion()); err != nil {
			return err
		}
		if counts.Files != want.Files || counts.Deleted != want.Deleted || counts.Hashes != want.Hashes {
			return fmt.Errorf("the copy holds %d files, %d deleted and %d hashes, but the backup holds %d, %d and %d; nothing was changed",
				counts.Files, counts.Deleted, counts.Hashes, want.Files, want.Deleted, want.Hashes)
		}
		if _, err := RecordEvent(ctx, tx, []string{EpochTag}); err != nil {
			return err
		}
		return tx.Commit()
	}
	// Taking the tables' locks one after another, the restore may meet a
	// writer holding one of them and waiting for another (a deadlock the
	// server breaks by aborting one side): it rolls back and tries again,
	// as often as the unit of work retries a transaction (BusyRetries).
	err = d.WithWrite(func(w *sqlx.DB) error {
		for attempt := 1; ; attempt++ {
			err := restore(w)
			if err == nil || !d.dialect.Retryable(err) || attempt > d.opts.BusyRetries {
				return err
			}
			select {
			case <-ctx.Done():
				return err
			case <-time.After(time.Duration(attempt) * 50 * time.Millisecond):
			}
		}
	})
	if err != nil {
		return dto.Counts{}, fmt.Errorf("restore %s from %s: %w", d.path, src, err)
	}
	return counts, nil
}
