package db

import (
	"fmt"
	"os"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// stmtJournalSpill is how large a statement journal may grow in memory
// before SQLite moves it to a temporary file.
//
// A statement journal holds the pages a write transaction's statements
// changed, as they were, so that one failing statement can be undone alone.
// SQLite keeps it in memory up to 64 KiB by default, then in a temporary
// file until the transaction ends: every page a statement changes from then
// on costs a write(2). A scan's chunk of 200 files went past 64 KiB, so each
// chunk wrote some 276 pages to a temporary file: 138,000 write calls in a
// first scan of 100,000 small files. Under 128 KiB there are none, and that
// scan ran 5-10% faster (measured on 2 cores, three pairs of runs
// alternated), with the same peak RSS.
//
// It must stay under 128 KiB: SQLite keeps the journal in pieces of this
// size and, when it spills, writes each piece in one call, which its unix
// VFS masks to 17 bits (seekAndWriteFd: nBuf & 0x1ffff). At 4 MiB a spill
// wrote nothing, and every statement with a larger journal failed with
// "database or disk is full" (TestStmtJournalSpills). The bound keeps a
// statement that rewrites a large table (a migration) from holding all its
// pages in memory.
const stmtJournalSpill = 128<<10 - 1

// SQLite takes this setting only before its first connection is opened,
// which is why it is made here, as the package starts.
func init() {
	if err := configStmtJournal(stmtJournalSpill); err != nil {
		fmt.Fprintln(os.Stderr, "indexer:", err) // a speed, not a fault: go on with SQLite's default
	}
}

// configStmtJournal sets the statement journal's spill threshold for the
// connections opened from now on (sqlite3_config, which SQLite refuses once
// it is in use).
func configStmtJournal(bytes int32) error {
	tls := libc.NewTLS()
	defer tls.Close()
	va := libc.NewVaList(bytes)
	if va == 0 {
		return fmt.Errorf("set the statement journal's size: %w", errNoMemory)
	}
	defer libc.Xfree(tls, va)
	if rc := sqlite3.Xsqlite3_config(tls, sqlite3.SQLITE_CONFIG_STMTJRNL_SPILL, va); rc != sqlite3.SQLITE_OK {
		return fmt.Errorf("set the statement journal's size: sqlite3_config returned %d", rc)
	}
	return nil
}
