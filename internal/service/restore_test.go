package service

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/db"
)

// restoreTestFixture is a backup of state A and the bytes of a closed catalog
// in a later state B, from which each test builds the file it restores over.
type restoreTestFixture struct {
	backup string
	rowsA  []string
	fileB  []byte
	// pathIndexPage is the number of the root page of the files_path index in
	// fileB: no query that opening or counting runs reads it.
	pathIndexPage int
}

func restoreTestSetup(t *testing.T) restoreTestFixture {
	t.Helper()
	ctx := context.Background()
	c := backupTestOpen(t)
	// Long paths over many pages, so that damage in the middle of the file
	// hits pages in use.
	backupTestWrite(t, c.UoW(), "/some/fairly/long/directory/name/to/fill/pages", "A", 3000)
	rowsA := backupTestRows(t, c.UoW())
	b, err := c.Backup(ctx, filepath.Join(t.TempDir(), "a.db"), false)
	if err != nil {
		t.Fatal(err)
	}
	backupTestWrite(t, c.UoW(), "/b", "B", 500)
	var root int
	if err := c.DB().WithRead(func(r *sqlx.DB) error {
		return r.Get(&root, "SELECT rootpage FROM sqlite_master WHERE name = 'files_path'")
	}); err != nil {
		t.Fatal(err)
	}
	path := c.DB().Path()
	if err := c.Close(); err != nil { // folds the WAL into the file and removes it
		t.Fatal(err)
	}
	fileB, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return restoreTestFixture{backup: b.Path, rowsA: rowsA, fileB: fileB, pathIndexPage: root}
}

// restoreTestRows opens the catalog at path and lists its files.
func restoreTestRows(t *testing.T, path string) []string {
	t.Helper()
	c, err := Open(context.Background(), path, db.Options{MustExist: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return backupTestRows(t, c.UoW())
}

// restoreTestSQL runs stmts on the database at path with a plain connection.
func restoreTestSQL(t *testing.T, path string, stmts ...string) {
	t.Helper()
	x, err := sql.Open(db.DriverName, "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	for _, s := range stmts {
		if _, err := x.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRestoreOverUnusableCatalog restores the backup of state A over every
// kind of file that cannot be opened as a catalog, and over no file at all.
// Each must end with exactly A's rows and a healthy catalog, and the file that
// was there must be kept byte for byte.
func TestRestoreOverUnusableCatalog(t *testing.T) {
	ctx := context.Background()
	fx := restoreTestSetup(t)
	const page = 4096
	if len(fx.fileB) < 200*page || fx.pathIndexPage < 2 {
		t.Fatalf("catalog of %d bytes, files_path at page %d: the damage below needs more pages", len(fx.fileB), fx.pathIndexPage)
	}
	junk := make([]byte, 64<<10)
	rand.Read(junk)
	walJunk := make([]byte, 8<<10)
	rand.Read(walJunk)

	tests := []struct {
		name string
		// make writes the file at path; nil leaves none.
		make func(t *testing.T, path string)
		// problem is what the plan says about the file, before opening it.
		problem error
		// suffix is the raw copy's; "" when nothing is saved.
		suffix string
		force  bool
		// opens says whether db.Open succeeds on the file.
		opens bool
	}{
		{
			name: "bytes overwritten in the middle",
			make: func(t *testing.T, p string) {
				b := slices.Clone(fx.fileB)
				mid := len(b) / 2 / page * page
				copy(b[mid:], bytes.Repeat([]byte{0xA5}, 16*page))
				restoreTestWrite(t, p, b)
			},
			problem: db.ErrCorrupt, suffix: damagedSuffix, opens: true,
		},
		{
			// It opens and counts its rows: only integrity_check, run when the
			// safety backup is verified, finds the damage.
			name: "index page overwritten",
			make: func(t *testing.T, p string) {
				b := slices.Clone(fx.fileB)
				off := (fx.pathIndexPage - 1) * page
				copy(b[off:off+page], bytes.Repeat([]byte{0x5A}, page))
				restoreTestWrite(t, p, b)
			},
			problem: nil, suffix: damagedSuffix, opens: true,
		},
		{
			name:    "truncated",
			make:    func(t *testing.T, p string) { restoreTestWrite(t, p, fx.fileB[:len(fx.fileB)/2]) },
			problem: db.ErrCorrupt, suffix: damagedSuffix,
		},
		{
			name:    "random bytes",
			make:    func(t *testing.T, p string) { restoreTestWrite(t, p, junk) },
			problem: db.ErrNotDatabase, suffix: damagedSuffix,
		},
		{
			name: "random bytes with a -wal beside it",
			make: func(t *testing.T, p string) {
				restoreTestWrite(t, p, junk)
				restoreTestWrite(t, p+"-wal", walJunk)
			},
			problem: db.ErrNotDatabase, suffix: damagedSuffix,
		},
		{
			name: "newer schema",
			make: func(t *testing.T, p string) {
				restoreTestWrite(t, p, fx.fileB)
				restoreTestSQL(t, p, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ("+strconv.Itoa(db.LatestVersion()+1)+", '9999_future.sql', 0)")
			},
			problem: db.ErrSchemaTooNew, suffix: newerSchemaSuffix,
		},
		{
			name: "another program's database, with force",
			make: func(t *testing.T, p string) {
				restoreTestSQL(t, p, "CREATE TABLE photos (id INTEGER PRIMARY KEY, path TEXT)", "INSERT INTO photos (path) VALUES ('x.jpg')")
			},
			problem: db.ErrNotCatalog, suffix: notCatalogSuffix, force: true,
		},
		{
			name: "empty file",
			make: func(t *testing.T, p string) { restoreTestWrite(t, p, nil) },
			// An existing-only open refuses an empty file (health must not
			// call it a catalog); restore still takes it as an empty one.
			opens: false,
		},
		{name: "missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "index.db")
			var orig, origWAL []byte
			if tt.make != nil {
				tt.make(t, path)
				orig, _ = os.ReadFile(path)
				origWAL, _ = os.ReadFile(path + "-wal")
				// Whether it opens is asked of a copy: opening may write.
				probe := filepath.Join(t.TempDir(), "probe.db")
				restoreTestWrite(t, probe, orig)
				if origWAL != nil {
					restoreTestWrite(t, probe+"-wal", origWAL)
				}
				d, err := db.Open(ctx, probe, db.Options{MustExist: true})
				if err == nil {
					d.Close()
				}
				if (err == nil) != tt.opens {
					t.Fatalf("db.Open: %v, want it to succeed: %v; the test does not test what it says", err, tt.opens)
				}
			}

			p, err := PlanRestore(ctx, path, fx.backup, db.DefaultOptions(), RestoreOptions{Force: tt.force}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if p.Missing != (tt.make == nil) || (tt.problem == nil) != (p.Problem == nil) || (tt.problem != nil && !errors.Is(p.Problem, tt.problem)) {
				t.Fatalf("plan: missing %v, problem %v; want missing %v, problem %v", p.Missing, p.Problem, tt.make == nil, tt.problem)
			}
			if p.Source.Files != int64(len(fx.rowsA)) || p.Source.Integrity != "ok" {
				t.Errorf("plan source = %+v, want %d files, integrity ok", p.Source, len(fx.rowsA))
			}
			res, err := p.Run(ctx)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("problem: %s", res.Problem)

			if got := restoreTestRows(t, path); !slices.Equal(got, fx.rowsA) {
				t.Errorf("after restore: %d rows, want exactly A's %d", len(got), len(fx.rowsA))
			}
			if h := Health(ctx, path, db.DefaultOptions(), true); !soundExceptPermissions(h) {
				t.Errorf("health after restore: %s: %+v", h.Status, h.Checks)
			}
			if res.Files != int64(len(fx.rowsA)) || res.RestoredFrom != fx.backup || res.Catalog != path || res.SchemaVersion != db.LatestVersion() {
				t.Errorf("Run = %+v", res)
			}
			if res.Created != (tt.make == nil) || res.Damaged != (tt.suffix != "") || (res.Problem == "") == res.Damaged {
				t.Errorf("Run: created %v, damaged %v, problem %q", res.Created, res.Damaged, res.Problem)
			}

			backups := BackupDir(path)
			if tt.suffix == "" {
				if res.SafetyBackup != "" {
					t.Errorf("safety backup %s, want none", res.SafetyBackup)
				}
				if _, err := os.Stat(backups); err == nil {
					t.Errorf("%s was created with nothing to save", backups)
				}
			} else {
				if filepath.Dir(res.SafetyBackup) != backups || !strings.HasPrefix(filepath.Base(res.SafetyBackup), "index-") || !strings.HasSuffix(res.SafetyBackup, tt.suffix+".db") {
					t.Errorf("safety backup %q, want %s/index-<time>%s.db", res.SafetyBackup, backups, tt.suffix)
				}
				if got, err := os.ReadFile(res.SafetyBackup); err != nil || !bytes.Equal(got, orig) {
					t.Errorf("the raw copy %s holds %d bytes (%v), not the %d bytes that were replaced", res.SafetyBackup, len(got), err, len(orig))
				}
				var wantLogs []string
				if origWAL != nil {
					wantLogs = []string{res.SafetyBackup + "-wal"}
					if got, err := os.ReadFile(res.SafetyBackup + "-wal"); err != nil || !bytes.Equal(got, origWAL) {
						t.Errorf("the copy of the -wal holds %d bytes (%v), want the %d that were beside the catalog", len(got), err, len(origWAL))
					}
				}
				if !slices.Equal(res.SafetyLogs, wantLogs) {
					t.Errorf("safety logs %v, want %v", res.SafetyLogs, wantLogs)
				}
				if left := backupTestLeftovers(t, backups); len(left) > 0 {
					t.Errorf("temporary files left in %s: %v", backups, left)
				}
			}
			if left := backupTestLeftovers(t, dir); len(left) > 0 {
				t.Errorf("temporary files left beside the catalog: %v", left)
			}
		})
	}
}

func restoreTestWrite(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRestoreRefusesAnotherProgramsDatabase: without Force, a database that
// is not a catalog is more likely a mistyped --db than a catalog to replace.
func TestRestoreRefusesAnotherProgramsDatabase(t *testing.T) {
	ctx := context.Background()
	fx := restoreTestSetup(t)
	path := filepath.Join(t.TempDir(), "places.sqlite")
	restoreTestSQL(t, path, "CREATE TABLE places (id INTEGER PRIMARY KEY, url TEXT)", "INSERT INTO places (url) VALUES ('https://example.org')")
	sum := backupTestSum(t, path)
	before := dirNamesOf(t, filepath.Dir(path))

	_, err := PlanRestore(ctx, path, fx.backup, db.DefaultOptions(), RestoreOptions{}, nil)
	if !errors.Is(err, db.ErrNotCatalog) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("PlanRestore over another program's database: %v, want db.ErrNotCatalog naming the file and --force", err)
	}
	if backupTestSum(t, path) != sum || !slices.Equal(dirNamesOf(t, filepath.Dir(path)), before) {
		t.Error("a refused restore changed the file or its directory")
	}
}

func dirNamesOf(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// TestRestoreOverDamagedCatalogRefusedWhileHeld: a scan opened the catalog
// before it was damaged and still holds it. The restore must fail with
// db.ErrInUse and change nothing, or with Wait, go ahead once the scan is gone.
func TestRestoreOverDamagedCatalogRefusedWhileHeld(t *testing.T) {
	ctx := context.Background()
	fx := restoreTestSetup(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "index.db")
	restoreTestWrite(t, path, fx.fileB)
	scan, err := db.Open(ctx, path, db.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer scan.Close()
	junk := make([]byte, 64<<10)
	rand.Read(junk)
	restoreTestWrite(t, path, junk)
	sum := sha256.Sum256(junk)
	names := dirNamesOf(t, dir)

	p, err := PlanRestore(ctx, path, fx.backup, db.DefaultOptions(), RestoreOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(p.Problem, db.ErrNotDatabase) {
		t.Fatalf("plan problem %v, want db.ErrNotDatabase", p.Problem)
	}
	unchanged := func() {
		t.Helper()
		if backupTestSum(t, path) != sum {
			t.Error("the damaged catalog's bytes changed")
		}
		if got := dirNamesOf(t, dir); !slices.Equal(got, names) {
			t.Errorf("files beside the catalog: %v, want %v (no backups/, no staged file)", got, names)
		}
	}
	if _, err := p.Run(ctx); !errors.Is(err, db.ErrInUse) {
		t.Fatalf("Run while a scan holds the catalog: %v, want db.ErrInUse", err)
	}
	unchanged()

	// Waiting is bounded by the context. The timers start once Run waits, so
	// that a slow machine cannot make them fire before.
	p.opts.Wait = true
	waitCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	p.opts.OnWait = func() { time.AfterFunc(100*time.Millisecond, cancel) }
	if _, err := p.Run(waitCtx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run with Wait, canceled while waiting: %v, want context.Canceled", err)
	}
	unchanged()

	waited := false
	p.opts.OnWait = func() {
		waited = true
		time.AfterFunc(100*time.Millisecond, func() { scan.Close() })
	}
	res, err := p.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !waited || !res.Damaged {
		t.Errorf("Run with Wait: waited %v, result %+v", waited, res)
	}
	if got := restoreTestRows(t, path); !slices.Equal(got, fx.rowsA) {
		t.Errorf("after the waiting restore: %d rows, want A's %d", len(got), len(fx.rowsA))
	}
}
