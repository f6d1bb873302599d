package db_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
)

// backupTestCatalog opens a new catalog in a temporary directory holding n
// files (every tenth one deleted) over n distinct contents.
func backupTestCatalog(t *testing.T, n int) *db.DB {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, filepath.Join(t.TempDir(), "index.db"), db.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	err = d.WithWrite(func(w *sqlx.DB) error {
		_, err := w.ExecContext(ctx, `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?)
			INSERT INTO files (machine, path, name, size, modified_sec, scanned, operation, md5, sha1, sha256)
			SELECT 'm', printf('/data/some/rather/long/directory/name/file-%08d.bin', x), printf('file-%08d.bin', x), x, 1, 1,
			       CASE WHEN x % 10 = 0 THEN 'DEL' ELSE 'ADD' END,
			       unhex(printf('%032x', x)), unhex(printf('%040x', x)), unhex(printf('%064x', x)) FROM c`, n)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func dirNames(t *testing.T, dir string) []string {
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

func TestBackupToWritesStandaloneVerifiedCopy(t *testing.T) {
	ctx := context.Background()
	d := backupTestCatalog(t, 500)
	dst := filepath.Join(t.TempDir(), "copy.db")

	counts, err := d.BackupTo(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	want := dto.Counts{Files: 450, Deleted: 50, Hashes: 500}
	if counts := rowCounts(counts); counts != want {
		t.Errorf("BackupTo counts = %+v, want %+v", counts, want)
	}
	b, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	// Bytes 18 and 19 are the file format versions: 1 is rollback journal, 2 WAL.
	if b[18] != 1 || b[19] != 1 {
		t.Errorf("backup header says format %d/%d, want 1/1 (journal_mode DELETE)", b[18], b[19])
	}
	if got := dirNames(t, filepath.Dir(dst)); !slices.Equal(got, []string{"copy.db"}) {
		t.Errorf("files beside the backup = %v, want only copy.db", got)
	}
	info, err := db.Inspect(ctx, dst, true)
	if err != nil {
		t.Fatal(err)
	}
	if rowCounts(info.Counts) != want || info.Integrity != "ok" || info.SchemaVersion != db.LatestVersion() || info.Bytes != int64(len(b)) {
		t.Errorf("Inspect = %+v, want counts %+v, integrity ok, version %d, %d bytes", info, want, db.LatestVersion(), len(b))
	}
}

func TestBackupToStopsWhenCanceled(t *testing.T) {
	d := backupTestCatalog(t, 2000)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.BackupTo(ctx, filepath.Join(t.TempDir(), "copy.db")); !errors.Is(err, context.Canceled) {
		t.Fatalf("BackupTo with a canceled context: %v, want context.Canceled", err)
	}
	// The snapshot transaction must not outlive the call: a full checkpoint
	// needs every reader gone from the WAL.
	var busy, log, done int
	err := d.WithWrite(func(w *sqlx.DB) error {
		return w.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &log, &done)
	})
	if err != nil || busy != 0 {
		t.Fatalf("checkpoint after a canceled backup: busy=%d err=%v, want a complete checkpoint", busy, err)
	}
}

func TestCopyFileCopiesWithoutTouchingSource(t *testing.T) {
	ctx := context.Background()
	d := backupTestCatalog(t, 100)
	src := d.Path()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	before, names := fileSum(t, src), dirNames(t, filepath.Dir(src))
	dst := filepath.Join(t.TempDir(), "copy.db")
	counts, err := db.CopyFile(ctx, src, dst)
	if err != nil {
		t.Fatal(err)
	}
	if want := (dto.Counts{Files: 90, Deleted: 10, Hashes: 100}); rowCounts(counts) != want {
		t.Errorf("CopyFile counts = %+v, want %+v", counts, want)
	}
	if fileSum(t, src) != before || !slices.Equal(dirNames(t, filepath.Dir(src)), names) {
		t.Errorf("CopyFile changed the source or its directory: %v, was %v", dirNames(t, filepath.Dir(src)), names)
	}
}

// TestInspectRejects builds each kind of file a restore must refuse and checks
// the error's identity, and that Inspect left the file and its directory as
// they were.
func TestInspectRejects(t *testing.T) {
	ctx := context.Background()
	d := backupTestCatalog(t, 3000)
	good := filepath.Join(t.TempDir(), "good.db")
	if _, err := d.BackupTo(ctx, good); err != nil {
		t.Fatal(err)
	}
	goodBytes, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	if len(goodBytes) < 100*4096 {
		t.Fatalf("test catalog is only %d bytes; the corruption case needs many pages", len(goodBytes))
	}

	write := func(b []byte) func(string) error { return func(p string) error { return os.WriteFile(p, b, 0o644) } }
	sqliteDB := func(stmts ...string) func(string) error {
		return func(p string) error {
			x, err := sql.Open(db.DriverName, "file:"+p)
			if err != nil {
				return err
			}
			defer x.Close()
			for _, s := range stmts {
				if _, err := x.Exec(s); err != nil {
					return err
				}
			}
			return nil
		}
	}
	random := make([]byte, 64<<10)
	rand.Read(random)
	corrupt := slices.Clone(goodBytes)
	mid := len(corrupt) / 2 / 4096 * 4096
	for i := mid; i < mid+8*4096; i++ {
		corrupt[i] = byte(i * 7)
	}
	withSide := func(side string) func(string) error {
		return func(p string) error {
			if err := os.WriteFile(p, goodBytes, 0o644); err != nil {
				return err
			}
			return os.WriteFile(p+side, []byte("leftover log content"), 0o644)
		}
	}

	tests := []struct {
		name string
		make func(path string) error // nil: the file does not exist
		want error
	}{
		{"missing", nil, fs.ErrNotExist},
		{"directory", func(p string) error { return os.Mkdir(p, 0o755) }, db.ErrNotDatabase},
		{"empty file", write(nil), db.ErrNotDatabase},
		{"text file", write([]byte("name,sha256\nphoto.jpg,abc\n")), db.ErrNotDatabase},
		{"random bytes", write(random), db.ErrNotDatabase},
		{"truncated", write(goodBytes[:len(goodBytes)/3]), db.ErrCorrupt},
		{"truncated mid-page", write(goodBytes[:len(goodBytes)-1000]), db.ErrCorrupt},
		{"overwritten middle", write(corrupt), db.ErrCorrupt},
		{"another program", sqliteDB("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)", "INSERT INTO notes (body) VALUES ('hi')"), db.ErrNotCatalog},
		{"empty SQLite database", sqliteDB("PRAGMA user_version = 1"), db.ErrNotCatalog},
		{"another program's schema_migrations", sqliteDB("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, dirty INTEGER)", "INSERT INTO schema_migrations VALUES (1, 0)"), db.ErrNotCatalog},
		{"newer schema", func(p string) error {
			if err := os.WriteFile(p, goodBytes, 0o644); err != nil {
				return err
			}
			return sqliteDB("INSERT INTO schema_migrations (version, name, applied_at) VALUES (" +
				strconv.Itoa(db.LatestVersion()+1) + ", '9999_future.sql', 0)")(p)
		}, db.ErrSchemaTooNew},
		{"wal beside", withSide("-wal"), db.ErrPendingLog},
		{"hot journal beside", withSide("-journal"), db.ErrPendingLog},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "src.db")
			if tt.make != nil {
				if err := tt.make(p); err != nil {
					t.Fatal(err)
				}
			}
			names := dirNames(t, dir)
			var sum [32]byte
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
				sum = fileSum(t, p)
			}

			_, err := db.Inspect(ctx, p, true)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Inspect: %v, want an error matching %v", err, tt.want)
			}
			t.Logf("cause: %v", err)
			if got := dirNames(t, dir); !slices.Equal(got, names) {
				t.Errorf("Inspect changed the directory: %v, was %v", got, names)
			}
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fileSum(t, p) != sum {
				t.Error("Inspect changed the file")
			}
		})
	}
}

// TestInspectLeavesWALFileAlone: a catalog file closed cleanly still says WAL
// in its header. A plain read-only open would create -wal and -shm beside it.
func TestInspectLeavesWALFileAlone(t *testing.T) {
	ctx := context.Background()
	d := backupTestCatalog(t, 10)
	p := d.Path()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	sum, names := fileSum(t, p), dirNames(t, filepath.Dir(p))
	info, err := db.Inspect(ctx, p, true)
	if err != nil {
		t.Fatal(err)
	}
	if info.Files != 9 || info.Deleted != 1 || info.Hashes != 10 {
		t.Errorf("Inspect counts = %+v, want 9 files, 1 deleted, 10 hashes", info.Counts)
	}
	if got := dirNames(t, filepath.Dir(p)); !slices.Equal(got, names) {
		t.Errorf("Inspect left files beside the catalog: %v, was %v", got, names)
	}
	if fileSum(t, p) != sum {
		t.Error("Inspect changed the file")
	}
}

// TestMigrateStandaloneFile: Restore upgrades a staged copy of an older
// backup with Migrate. With one schema version there is no older catalog to
// restore yet, so start from an empty database, which Migrate brings to the
// latest version, still in rollback-journal mode.
func TestMigrateStandaloneFile(t *testing.T) {
	ctx := context.Background()
	p := filepath.Join(t.TempDir(), "staged.db")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	v, err := db.Migrate(ctx, p)
	if err != nil || v != db.LatestVersion() {
		t.Fatalf("Migrate = %d, %v; want %d", v, err, db.LatestVersion())
	}
	info, err := db.Inspect(ctx, p, true)
	if err != nil || info.SchemaVersion != db.LatestVersion() {
		t.Fatalf("Inspect after Migrate: %+v, %v", info, err)
	}
	if b, _ := os.ReadFile(p); b[18] != 1 {
		t.Errorf("Migrate left the file in journal format %d, want 1 (DELETE)", b[18])
	}
	if got := dirNames(t, filepath.Dir(p)); !slices.Equal(got, []string{"staged.db"}) {
		t.Errorf("files beside the migrated file: %v", got)
	}
}

// rowCounts keeps the counts the backup tests check: files, deleted rows,
// contents and scans.
func rowCounts(c dto.Counts) dto.Counts {
	return dto.Counts{Files: c.Files, Deleted: c.Deleted, Hashes: c.Hashes, Scans: c.Scans}
}
