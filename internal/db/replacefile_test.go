package db_test

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/db"
)

// replaceFileTestBackup writes a standalone catalog holding n files of n
// distinct contents and returns its path.
func replaceFileTestBackup(t *testing.T, n int) string {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, filepath.Join(t.TempDir(), "src.db"), db.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	err = d.WithWrite(func(w *sqlx.DB) error {
		_, err := w.ExecContext(ctx, `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?)
			INSERT INTO files (machine, path, name, size, modified_sec, scanned, operation, md5, sha1, sha256)
			SELECT 'm', printf('/f%d', x), printf('f%d', x), x, 1, 1, 'ADD',
			       unhex(printf('%032x', x)), unhex(printf('%040x', x)), unhex(printf('%064x', x)) FROM c`, n)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "backup.db")
	if _, err := d.BackupTo(ctx, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

// replaceFileTestHashes returns the number of distinct contents in d.
func replaceFileTestHashes(t *testing.T, d *db.DB) int {
	t.Helper()
	var n int
	if err := d.WithRead(func(r *sqlx.DB) error { return r.Get(&n, "SELECT COUNT(DISTINCT sha256) FROM files") }); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestReplaceFileOverUnopenableCatalog: a catalog of random bytes cannot be
// opened, yet ReplaceFile swaps a good file in and returns it open; while
// another handle holds the catalog it refuses without running swap, and no
// process can open the catalog while swap runs.
func TestReplaceFileOverUnopenableCatalog(t *testing.T) {
	ctx := context.Background()
	src := replaceFileTestBackup(t, 30)
	path := filepath.Join(t.TempDir(), "index.db")

	// A handle opened before the file was damaged stands in for a running scan.
	holder, err := db.Open(ctx, path, db.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	// Fold the migrations into the file: with them still in the WAL, SQLite
	// would read the schema from there and never look at the damaged file.
	if err := holder.WithWrite(func(w *sqlx.DB) error { _, err := w.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); return err }); err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, 16<<10)
	rand.Read(junk)
	if err := os.WriteFile(path, junk, 0o644); err != nil {
		t.Fatal(err)
	}
	if d, err := db.Open(ctx, path, db.Options{MustExist: true}); !errors.Is(err, db.ErrNotDatabase) {
		if d != nil {
			d.Close()
		}
		t.Fatalf("Open on random bytes: %v, want db.ErrNotDatabase", err)
	}

	swaps := 0
	swap := func(p string) error {
		swaps++
		// Nobody may open the catalog during the swap.
		short := db.DefaultOptions()
		short.BusyTimeout = 100 * time.Millisecond
		if d, err := db.Open(ctx, p, short); !errors.Is(err, db.ErrInUse) {
			if d != nil {
				d.Close()
			}
			return errors.New("another handle opened the catalog during the swap")
		}
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		os.Remove(p + "-wal")
		os.Remove(p + "-shm")
		return os.WriteFile(p, b, 0o644)
	}

	if _, err := db.ReplaceFile(ctx, path, db.DefaultOptions(), false, swap); !errors.Is(err, db.ErrInUse) {
		t.Fatalf("ReplaceFile while another handle holds the catalog: %v, want db.ErrInUse", err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := db.ReplaceFile(short, path, db.DefaultOptions(), true, swap); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ReplaceFile waiting past its deadline: %v, want context.DeadlineExceeded", err)
	}
	if swaps != 0 {
		t.Fatalf("swap ran %d times while the catalog was held", swaps)
	}
	if got, _ := os.ReadFile(path); string(got) != string(junk) {
		t.Fatal("a refused ReplaceFile changed the catalog")
	}

	time.AfterFunc(200*time.Millisecond, func() { holder.Close() })
	d, err := db.ReplaceFile(ctx, path, db.DefaultOptions(), true, swap)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if swaps != 1 {
		t.Errorf("swap ran %d times, want once", swaps)
	}
	if n := replaceFileTestHashes(t, d); n != 30 {
		t.Errorf("the catalog ReplaceFile returned holds %d contents, want 30", n)
	}
	// It holds the catalog shared, like Open: others may open it, a restore may not swap it.
	other, err := db.Open(ctx, path, db.DefaultOptions())
	if err != nil {
		t.Fatalf("Open beside the catalog ReplaceFile returned: %v", err)
	}
	other.Close()
	if _, err := db.ReplaceFile(ctx, path, db.DefaultOptions(), false, swap); !errors.Is(err, db.ErrInUse) {
		t.Errorf("ReplaceFile while its own result is open: %v, want db.ErrInUse", err)
	}
}

// TestReplaceFileCreatesMissingCatalog: no file and no directory yet.
func TestReplaceFileCreatesMissingCatalog(t *testing.T) {
	ctx := context.Background()
	src := replaceFileTestBackup(t, 7)
	path := filepath.Join(t.TempDir(), "new", "dir", "index.db")
	var saw error
	d, err := db.ReplaceFile(ctx, path, db.DefaultOptions(), false, func(p string) error {
		_, saw = os.Stat(p)
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		return os.WriteFile(p, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if !errors.Is(saw, os.ErrNotExist) {
		t.Errorf("swap found %v at the catalog path, want nothing", saw)
	}
	if n := replaceFileTestHashes(t, d); n != 7 {
		t.Errorf("catalog holds %d contents, want 7", n)
	}
}

// TestReplaceFileSwapErrorOpensNothing: a failing swap is reported as it is
// and releases the lock.
func TestReplaceFileSwapErrorOpensNothing(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "index.db")
	boom := errors.New("boom")
	if _, err := db.ReplaceFile(ctx, path, db.DefaultOptions(), false, func(string) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("ReplaceFile: %v, want the swap's error", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed ReplaceFile left a catalog: %v", err)
	}
	short := db.DefaultOptions()
	short.BusyTimeout = 100 * time.Millisecond
	d, err := db.Open(ctx, path, short)
	if err != nil {
		t.Fatalf("Open after a failed ReplaceFile: %v (lock not released?)", err)
	}
	d.Close()
}
