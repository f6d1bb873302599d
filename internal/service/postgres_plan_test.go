package service

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/pgtest"
)

// TestPostgresFirstScanBeforeAnalyze scans into a new PostgreSQL catalog
// that has never been analyzed (autovacuum kept off its files table), as a
// first scan finds it. The triggers' hard-link lookup must take the index
// led by sha256: through files_dir, which the planner preferred without
// statistics, it read every row of the machine for every row written
// (quadratic: a first scan of 20,000 files took minutes).
func TestPostgresFirstScanBeforeAnalyze(t *testing.T) {
	const n = 1000
	u := pgtest.URL(t)
	c, err := Open(context.Background(), u, db.DefaultOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	x, err := sqlx.Open("pgx", u)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if _, err := x.Exec("ALTER TABLE files SET (autovacuum_enabled = off)"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for i := range n {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("f%04d", i)), fmt.Appendf(nil, "file %d", i))
	}
	rep, err := c.Scan(context.Background(), []string{dir}, ScanOptions{Machine: "m1"})
	if err != nil || rep.Status != dto.ScanComplete {
		t.Fatalf("scan %s: %v", rep.Status, err)
	}
	c.Close() // its backends report their statistics as they exit
	var analyzed bool
	if err := x.Get(&analyzed, "SELECT last_autoanalyze IS NOT NULL OR last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'files'"); err != nil {
		t.Fatal(err)
	}
	if analyzed {
		t.Fatal("files was analyzed: the test wants a catalog without statistics")
	}
	// The scan's end reads files_dir once per directory (the directory
	// digests); the lookup of each new row through it read the machine's rows.
	var read int64
	if err := x.Get(&read, "SELECT idx_tup_read FROM pg_stat_user_indexes WHERE indexrelname = 'files_dir'"); err != nil {
		t.Fatal(err)
	}
	if read > 10*n {
		t.Errorf("files_dir read %d index entries for a scan of %d files: the triggers look rows up through it", read, n)
	}
}
