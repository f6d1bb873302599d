package service

import (
	"bufio"
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/uow"
)

// backupTestOpen opens a new catalog in its own temporary directory.
func backupTestOpen(t *testing.T) *Catalog {
	t.Helper()
	c, err := Open(context.Background(), filepath.Join(t.TempDir(), "index.db"), db.DefaultOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// backupTestWrite records, in one transaction, files prefix/0 … prefix/n-1,
// the content of each named by tag: the same path written with another tag
// gets another sha256.
func backupTestWrite(t testing.TB, u *uow.UoW, prefix, tag string, n int) {
	t.Helper()
	if err := backupTestWriteErr(u, prefix, tag, 0, n); err != nil {
		t.Fatal(err)
	}
}

func backupTestWriteErr(u *uow.UoW, prefix, tag string, from, to int) error {
	return u.Do(context.Background(), "test", func(ctx context.Context, r *uow.Repos) error {
		var fs []dto.FileWithHash
		now := time.Now()
		for i := from; i < to; i++ {
			sum := fmt.Sprintf("%x", sha256.Sum256(fmt.Appendf(nil, "%s/%s/%d", tag, prefix, i)))
			p := fmt.Sprintf("%s/%d", prefix, i)
			fs = append(fs, dto.FileWithHash{
				Hash: dto.FileHash{Size: int64(i), MD5: sum[:32], SHA1: sum[:40], SHA256: sum},
				FileMeta: dto.FileMeta{Machine: "m", Path: p, Name: filepath.Base(p), Size: int64(i),
					Modified: now, Scanned: now, Operation: dto.OpAdd}})
		}
		return r.Files.UpsertMany(ctx, fs)
	})
}

// backupTestRowsSQL lists every file as "path sha256" (- for none).
const backupTestRowsSQL = `SELECT path || ' ' || COALESCE(lower(hex(sha256)), '-') FROM files ORDER BY path`

// backupTestRows reads the rows through u's read transactions.
func backupTestRows(t *testing.T, u *uow.UoW) []string {
	t.Helper()
	var rows []string
	err := u.Read(context.Background(), func(ctx context.Context, r *uow.Repos) error {
		q := dto.FindFilter{MaxSize: -1, Deleted: true, IncludeArchived: true}
		return r.Files.Find(ctx, q, func(f dto.FileWithHash) error {
			rows = append(rows, f.Path+" "+cmp.Or(f.Hash.SHA256, "-"))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(rows) // as backupTestRowsSQL orders them
	return rows
}

// backupTestRowsDB reads the rows straight from d's read pool.
func backupTestRowsDB(t *testing.T, d *db.DB) []string {
	t.Helper()
	var rows []string
	err := d.WithRead(func(r *sqlx.DB) error { return r.SelectContext(context.Background(), &rows, backupTestRowsSQL) })
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(rows) // as backupTestRows does
	return rows
}

func backupTestSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// backupTestLeftovers lists temporary files Backup or Restore left in dir.
func backupTestLeftovers(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		if strings.HasPrefix(e.Name(), ".indexer-") {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestBackupWhileWritingIsConsistentAndRestorable(t *testing.T) {
	ctx := context.Background()
	c := backupTestOpen(t)
	const base, chunk = 1000, 50
	backupTestWrite(t, c.UoW(), "/base", "v1", base)

	var committed atomic.Int64 // chunks committed so far
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var writeErr error
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := backupTestWriteErr(c.UoW(), "/live", "v1", i*chunk, (i+1)*chunk); err != nil {
				writeErr = err
				return
			}
			committed.Add(1)
		}
	})

	var backups []dto.Backup
	for range 2 {
		before := committed.Load()
		b, err := c.Backup(ctx, "", false)
		after := committed.Load()
		if err != nil {
			close(stop)
			wg.Wait()
			t.Fatal(err)
		}
		t.Logf("backup of %d files taken while %d chunks committed", b.Files, after-before)
		// Every live file has its own content, and chunks commit whole.
		live := b.Files - base
		if b.Integrity != "ok" || b.Hashes != b.Files || live%chunk != 0 || live/chunk < before || live/chunk > after {
			t.Errorf("backup %+v is not a committed state: want integrity ok, hashes = files, %d + k×%d files with %d ≤ k ≤ %d", b, base, chunk, before, after)
		}
		backups = append(backups, b)
	}
	close(stop)
	wg.Wait()
	if writeErr != nil {
		t.Fatalf("writer: %v", writeErr)
	}

	// The first backup restores to exactly the state it recorded.
	b := backups[0]
	if _, err := c.Restore(ctx, b.Path, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	var want []string
	for prefix, n := range map[string]int64{"/base": base, "/live": b.Files - base} {
		for i := range n {
			want = append(want, fmt.Sprintf("%s/%d %x", prefix, i, sha256.Sum256(fmt.Appendf(nil, "v1/%s/%d", prefix, i))))
		}
	}
	slices.Sort(want)
	if got := backupTestRows(t, c.UoW()); !slices.Equal(got, want) {
		t.Errorf("restored catalog has %d rows, want the backup's %d", len(got), len(want))
	}
}

// TestRestoreThroughLongLivedObjects holds the catalog the way a server would:
// one Catalog, and a unit of work and a DB taken from it before the restore.
// After the restore all of them must see the backup's rows and nothing else.
func TestRestoreThroughLongLivedObjects(t *testing.T) {
	ctx := context.Background()
	c := backupTestOpen(t)
	u, d := c.UoW(), c.DB()

	backupTestWrite(t, u, "/a", "A", 100)
	rowsA := backupTestRows(t, u)
	b, err := c.Backup(ctx, "", false)
	if err != nil {
		t.Fatal(err)
	}
	backupTestWrite(t, u, "/a", "B", 20) // new content for 20 of A's files
	backupTestWrite(t, u, "/b", "B", 30) // and 30 new files
	rowsB := backupTestRows(t, u)
	if slices.Equal(rowsA, rowsB) || len(rowsB) != 130 {
		t.Fatalf("state B (%d rows) does not differ from A (%d rows)", len(rowsB), len(rowsA))
	}

	// Restore keeps the catalog's permissions, and gives them to the safety backup.
	if err := os.Chmod(d.Path(), 0o640); err != nil {
		t.Fatal(err)
	}
	res, err := c.Restore(ctx, b.Path, RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{d.Path(), res.SafetyBackup} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o640 {
			t.Errorf("%s: mode %v, %v; want the catalog's 0640", p, fi.Mode(), err)
		}
	}
	if res.Files != 100 || res.Hashes != 100 || res.RestoredFrom != b.Path || res.SchemaVersion != db.LatestVersion() {
		t.Errorf("Restore = %+v, want 100 files and hashes from %s at version %d", res, b.Path, db.LatestVersion())
	}
	for name, got := range map[string][]string{
		"unit of work taken before": backupTestRows(t, u),
		"catalog's unit of work":    backupTestRows(t, c.UoW()),
		"DB taken before":           backupTestRowsDB(t, d),
	} {
		if !slices.Equal(got, rowsA) {
			t.Errorf("%s sees %d rows after restore, want exactly A's %d", name, len(got), len(rowsA))
		}
	}
	var health []string
	if err := d.WithRead(func(r *sqlx.DB) error { return r.SelectContext(ctx, &health, "PRAGMA integrity_check") }); err != nil || !slices.Equal(health, []string{"ok"}) {
		t.Errorf("integrity_check after restore: %v %v", health, err)
	}
	// Writes go to the restored file too.
	backupTestWrite(t, u, "/c", "C", 1)
	if n := len(backupTestRowsDB(t, d)); n != 101 {
		t.Errorf("after a write following the restore: %d rows, want 101", n)
	}

	// The safety backup holds B.
	if !strings.HasSuffix(res.SafetyBackup, safetySuffix+".db") || filepath.Dir(res.SafetyBackup) != BackupDir(d.Path()) {
		t.Errorf("safety backup %q, want a %s.db file in %s", res.SafetyBackup, safetySuffix, BackupDir(d.Path()))
	}
	info, err := db.Inspect(ctx, res.SafetyBackup, true)
	if err != nil || info.Files != 130 {
		t.Errorf("safety backup: %+v, %v; want state B's 130 files", info, err)
	}
	// Listed after the backup it was restored from, even within one second.
	if list, err := ListBackups(ctx, d.Path()); err != nil || len(list) != 2 || list[0].Path != b.Path || list[1].Path != res.SafetyBackup {
		t.Errorf("ListBackups = %+v, %v; want %s then %s", list, err, b.Path, res.SafetyBackup)
	}
	if left := backupTestLeftovers(t, filepath.Dir(d.Path())); len(left) > 0 {
		t.Errorf("temporary files left beside the catalog: %v", left)
	}
}

// TestRestoreIgnoresStaleWAL plants a WAL with valid frames beside the catalog
// at the moment of the swap: SQLite would replay it onto the restored file.
func TestRestoreIgnoresStaleWAL(t *testing.T) {
	ctx := context.Background()
	c := backupTestOpen(t)
	u := c.UoW()
	backupTestWrite(t, u, "/a", "A", 50)
	rowsA := backupTestRows(t, u)
	b, err := c.Backup(ctx, "", false)
	if err != nil {
		t.Fatal(err)
	}
	backupTestWrite(t, u, "/a", "B", 50)
	backupTestWrite(t, u, "/b", "B", 50)
	// The catalog's own WAL, with B's frames not yet checkpointed.
	ownWAL, err := os.ReadFile(c.DB().Path() + "-wal")
	if err != nil || len(ownWAL) <= 32 {
		t.Fatalf("catalog WAL holds %d bytes (%v); the test needs frames in it", len(ownWAL), err)
	}
	// Another catalog's WAL.
	other := backupTestOpen(t)
	backupTestWrite(t, other.UoW(), "/x", "X", 80)
	otherWAL, err := os.ReadFile(other.DB().Path() + "-wal")
	if err != nil || len(otherWAL) <= 32 {
		t.Fatalf("other WAL holds %d bytes (%v)", len(otherWAL), err)
	}

	for name, wal := range map[string][]byte{"old catalog's WAL": ownWAL, "another database's WAL": otherWAL} {
		t.Run(name, func(t *testing.T) {
			planted := false
			beforeInstall = func(path string) {
				planted = os.WriteFile(path+"-wal", wal, 0o644) == nil
			}
			defer func() { beforeInstall = nil }()
			if _, err := c.Restore(ctx, b.Path, RestoreOptions{}); err != nil {
				t.Fatal(err)
			}
			if !planted {
				t.Fatal("the stale WAL was not planted")
			}
			if got := backupTestRows(t, u); !slices.Equal(got, rowsA) {
				t.Errorf("after restore: %d rows, want exactly A's %d", len(got), len(rowsA))
			}
			if problems, err := c.DB().Check(ctx, true); err != nil || problems != nil {
				t.Errorf("integrity_check after restore: %v %v", problems, err)
			}
		})
	}
}

// TestRestoreRefusedWhileHeld: a second handle on the catalog stands in for a
// scan in another process. The restore must fail with db.ErrInUse and change
// nothing, or with Wait, wait for the handle to go.
func TestRestoreRefusedWhileHeld(t *testing.T) {
	ctx := context.Background()
	c := backupTestOpen(t)
	backupTestWrite(t, c.UoW(), "/a", "A", 20)
	b, err := c.Backup(ctx, "", false)
	if err != nil {
		t.Fatal(err)
	}
	backupTestWrite(t, c.UoW(), "/b", "B", 20)
	rowsB := backupTestRows(t, c.UoW())
	path := c.DB().Path()
	scan, err := db.Open(ctx, path, db.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer scan.Close()
	backupTestCheckpoint(t, c.DB())
	sum := backupTestSum(t, path)
	backups, _ := ListBackups(ctx, path)

	_, err = c.Restore(ctx, b.Path, RestoreOptions{})
	if !errors.Is(err, db.ErrInUse) {
		t.Fatalf("Restore while another handle holds the catalog: %v, want db.ErrInUse", err)
	}
	backupTestUnchanged(t, c, sum, rowsB, backups)

	// Waiting is bounded by the context.
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := c.Restore(short, b.Path, RestoreOptions{Wait: true}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Restore --wait past its deadline: %v, want context.DeadlineExceeded", err)
	}
	backupTestUnchanged(t, c, sum, rowsB, backups)

	// With Wait it goes ahead once the other handle closes.
	time.AfterFunc(300*time.Millisecond, func() { scan.Close() })
	if _, err := c.Restore(ctx, b.Path, RestoreOptions{Wait: true}); err != nil {
		t.Fatal(err)
	}
	if got := backupTestRows(t, c.UoW()); len(got) != 20 {
		t.Errorf("after the waiting restore: %d rows, want 20", len(got))
	}
}

// TestRestoreRefusedWhileAnotherProcessHolds runs the holder as a real child
// process: this test binary, re-executed.
func TestRestoreRefusedWhileAnotherProcessHolds(t *testing.T) {
	ctx := context.Background()
	c := backupTestOpen(t)
	backupTestWrite(t, c.UoW(), "/a", "A", 20)
	b, err := c.Backup(ctx, "", false)
	if err != nil {
		t.Fatal(err)
	}
	backupTestWrite(t, c.UoW(), "/b", "B", 20)
	rowsB := backupTestRows(t, c.UoW())
	path := c.DB().Path()

	child := exec.Command(os.Args[0], "-test.run=^TestBackupHelperProcess$")
	child.Env = append(os.Environ(), "INDEXER_TEST_HOLD_CATALOG="+path)
	child.Stderr = os.Stderr
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Wait()
	defer stdin.Close()
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "holding\n" {
		t.Fatalf("child said %q, %v", line, err)
	}
	backupTestCheckpoint(t, c.DB())
	sum := backupTestSum(t, path)
	backups, _ := ListBackups(ctx, path)

	if _, err := c.Restore(ctx, b.Path, RestoreOptions{}); !errors.Is(err, db.ErrInUse) {
		t.Fatalf("Restore while another process holds the catalog: %v, want db.ErrInUse", err)
	}
	backupTestUnchanged(t, c, sum, rowsB, backups)

	time.AfterFunc(300*time.Millisecond, func() { stdin.Close() })
	if _, err := c.Restore(ctx, b.Path, RestoreOptions{Wait: true}); err != nil {
		t.Fatal(err)
	}
	if got := backupTestRows(t, c.UoW()); len(got) != 20 {
		t.Errorf("after the waiting restore: %d rows, want 20", len(got))
	}
}

// TestBackupHelperProcess is not a test: run by
// TestRestoreRefusedWhileAnotherProcessHolds, it holds the catalog open, as a
// scan does, until its stdin closes.
func TestBackupHelperProcess(t *testing.T) {
	path := os.Getenv("INDEXER_TEST_HOLD_CATALOG")
	if path == "" {
		t.Skip("helper process for TestRestoreRefusedWhileAnotherProcessHolds")
	}
	d, err := db.Open(context.Background(), path, db.DefaultOptions())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("holding")
	bufio.NewReader(os.Stdin).ReadString('\n')
	d.Close()
	os.Exit(0)
}

// backupTestCheckpoint folds the WAL into the file, so that the file's bytes
// stand for the catalog's content.
func backupTestCheckpoint(t *testing.T, d *db.DB) {
	t.Helper()
	err := d.WithWrite(func(w *sqlx.DB) error {
		_, err := w.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// backupTestUnchanged checks that a refused restore left the catalog alone:
// same bytes, same rows, no new backups, no staged files.
func backupTestUnchanged(t *testing.T, c *Catalog, sum [32]byte, rows []string, backups []dto.Backup) {
	t.Helper()
	path := c.DB().Path()
	if backupTestSum(t, path) != sum {
		t.Error("the catalog file changed")
	}
	if got := backupTestRows(t, c.UoW()); !slices.Equal(got, rows) {
		t.Errorf("the catalog has %d rows, want the %d it had", len(got), len(rows))
	}
	if got, _ := ListBackups(context.Background(), path); len(got) != len(backups) {
		t.Errorf("%d backups, want the %d there were: a refused restore saved the catalog", len(got), len(backups))
	}
	if left := backupTestLeftovers(t, filepath.Dir(path)); len(left) > 0 {
		t.Errorf("temporary files left beside the catalog: %v", left)
	}
}

func TestRestoreRejectsBadSourceAndChangesNothing(t *testing.T) {
	ctx := context.Background()
	c := backupTestOpen(t)
	backupTestWrite(t, c.UoW(), "/a", "A", 20)
	rows := backupTestRows(t, c.UoW())
	path := c.DB().Path()
	backupTestCheckpoint(t, c.DB())
	sum := backupTestSum(t, path)

	bad := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(bad, []byte("not a database\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		src  string
		want error
	}{
		{bad, db.ErrNotDatabase},
		{path, nil}, // the catalog itself
	} {
		_, err := c.Restore(ctx, tt.src, RestoreOptions{})
		if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) || !strings.Contains(err.Error(), tt.src) {
			t.Errorf("Restore(%s): %v, want an error naming the file", tt.src, err)
		}
		t.Logf("%v", err)
	}
	backupTestUnchanged(t, c, sum, rows, nil)
}

func TestBackupNamesAndOverwrite(t *testing.T) {
	ctx := context.Background()
	c := backupTestOpen(t)
	backupTestWrite(t, c.UoW(), "/a", "A", 10)
	dir := BackupDir(c.DB().Path())

	b1, err := c.Backup(ctx, "", false)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := c.Backup(ctx, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(b1.Path) != dir || !strings.HasPrefix(filepath.Base(b1.Path), "index-") || b1.Path == b2.Path {
		t.Errorf("default backups %s and %s, want two index-<time>.db files in %s", b1.Path, b2.Path, dir)
	}
	if b1.Files != 10 || b1.Hashes != 10 || b1.Integrity != "ok" || b1.SchemaVersion != db.LatestVersion() {
		t.Errorf("backup = %+v", b1)
	}
	list, err := ListBackups(ctx, c.DB().Path())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Path != b1.Path || list[1].Path != b2.Path || list[0].Files != 10 || list[0].Time.IsZero() {
		t.Errorf("ListBackups = %+v, want b1 then b2 with counts", list)
	}

	// An existing file is kept without force and replaced with it.
	dst := filepath.Join(t.TempDir(), "mine.db")
	if err := os.WriteFile(dst, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Backup(ctx, dst, false); !errors.Is(err, ErrBackupExists) {
		t.Fatalf("Backup over an existing file: %v, want ErrBackupExists", err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "precious" {
		t.Error("Backup without force changed the existing file")
	}
	if left := backupTestLeftovers(t, filepath.Dir(dst)); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	if b, err := c.Backup(ctx, dst, true); err != nil || b.Path != dst || b.Files != 10 {
		t.Fatalf("Backup --force: %+v, %v", b, err)
	}
	// A directory gets a default name inside it.
	into := t.TempDir()
	if b, err := c.Backup(ctx, into, false); err != nil || filepath.Dir(b.Path) != into {
		t.Fatalf("Backup into a directory: %+v, %v", b, err)
	}
	if _, err := c.Backup(ctx, c.DB().Path(), true); err == nil {
		t.Fatal("Backup onto the catalog itself succeeded")
	}
}
