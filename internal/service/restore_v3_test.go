package service

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dbtest"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/uow"
)

// restoreV3Digests returns the hex digests of s.
func restoreV3Digests(s string) dto.FileHash {
	m, s1, s256 := md5.Sum([]byte(s)), sha1.Sum([]byte(s)), sha256.Sum256([]byte(s))
	return dto.FileHash{Size: int64(len(s)), MD5: hex.EncodeToString(m[:]),
		SHA1: hex.EncodeToString(s1[:]), SHA256: hex.EncodeToString(s256[:])}
}

// restoreV3File is a file of the version-3 backup and what a restore of it
// must give: its digests (none for "") and scan.
type restoreV3File struct {
	path, archivePath string
	op                dto.Operation
	hashID            int64 // 0: never hashed
	scanID            int64 // in the backup
	content           string
	wantScan          int64 // after the restore; 0: NULL
}

// restoreV3Files: two files share "alpha"; a deleted file and an archive entry
// have "beta"; one was never hashed; one refers to content 3, whose md5 is not
// hex; one was recorded by scan 9, whose row was deleted later (version 3
// worked on with both, and health reported them).
var restoreV3Files = []restoreV3File{
	{path: "/v3/a.txt", op: dto.OpAdd, hashID: 1, scanID: 4, content: "alpha", wantScan: 4},
	{path: "/v3/a-copy.txt", op: dto.OpMod, hashID: 1, scanID: 4, content: "alpha", wantScan: 4},
	{path: "/v3/b.txt", op: dto.OpDel, hashID: 2, scanID: 4, content: "beta", wantScan: 4},
	{path: "/v3/pack.zip", archivePath: "in/b.txt", op: dto.OpAdd, hashID: 2, scanID: 4, content: "beta", wantScan: 4},
	{path: "/v3/unhashed.bin", op: dto.OpAdd, scanID: 4, wantScan: 4},
	{path: "/v3/bad-md5.txt", op: dto.OpAdd, hashID: 3, scanID: 4, wantScan: 4},
	{path: "/v3/lost-scan.txt", op: dto.OpAdd, hashID: 2, scanID: 9, content: "beta"},
}

// restoreV3Backup writes a catalog of schema version 3, as an older indexer
// left it, holding restoreV3Files, and returns its path.
func restoreV3Backup(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "v3-backup.db")
	alpha, beta, gamma := restoreV3Digests("alpha"), restoreV3Digests("beta"), restoreV3Digests("gamma")
	dbtest.WriteOldCatalog(t, path, 3, func(exec func(q string, args ...any)) {
		exec(`INSERT INTO scans (id, machine, roots, started, finished, status, host, pid)
			VALUES (4, 'm', '["/v3"]', 1000, 2000, 'complete', 'h', 42)`)
		for id, h := range map[int64]dto.FileHash{1: alpha, 2: beta, 3: {MD5: "not hex, but 32 characters long", SHA1: gamma.SHA1, SHA256: gamma.SHA256}} {
			exec("INSERT INTO hashes (id, size, md5, sha1, sha256) VALUES (?, ?, ?, ?, ?)", id, h.Size, h.MD5, h.SHA1, h.SHA256)
		}
		// As sqlite3, whose foreign keys are off, lets a user do.
		exec("PRAGMA foreign_keys = OFF")
		exec(`INSERT INTO scans (id, machine, roots, started, finished, status, host, pid)
			VALUES (9, 'm', '["/v3"]', 3000, 4000, 'complete', 'h', 43)`)
		for i, f := range restoreV3Files {
			var hashID any
			if f.hashID != 0 {
				hashID = f.hashID
			}
			exec(`INSERT INTO files (machine, path, archive_path, name, size, modified, scanned,
				operation, is_archived, hash_id, scan_id, mtime_ns, ctime_ns, inode, device, nlink)
				VALUES ('m', ?, ?, ?, 5, ?, 1000, ?, ?, ?, ?, ?, ?, ?, 77, 1)`,
				f.path, f.archivePath, filepath.Base(f.path), int64(i)*1e9, string(f.op), f.archivePath != "",
				hashID, f.scanID, int64(i)*1e9, int64(i)*1e9+1, 1000+i)
		}
		exec("DELETE FROM scans WHERE id = 9")
	})
	return path
}

// TestRestoreV3Backup restores a backup of schema version 3 end to end, over
// a catalog in use and where there is none: the staged copy is migrated to
// the current schema, and the restored catalog holds every file with its
// digests (hex through the repositories), none for the file whose content had
// malformed digests, and the counts the backup was checked with.
func TestRestoreV3Backup(t *testing.T) {
	ctx := context.Background()
	src := restoreV3Backup(t)
	info, err := db.Inspect(ctx, src, true)
	if err != nil {
		t.Fatalf("Inspect the version-3 backup: %v", err)
	}
	// alpha and beta; the content with malformed md5 is no content after the
	// migration.
	wantCounts := dto.Counts{Files: 6, Deleted: 1, Hashes: 2, Scans: 1}
	if info.SchemaVersion != 3 || (dto.Counts{Files: info.Files, Deleted: info.Deleted, Hashes: info.Hashes, Scans: info.Scans}) != wantCounts {
		t.Errorf("Inspect the version-3 backup = version %d, %+v; want 3, %+v", info.SchemaVersion, info.Counts, wantCounts)
	}
	sum := backupTestSum(t, src)

	check := func(t *testing.T, res dto.Restore, u *uow.UoW) {
		t.Helper()
		if res.Files != wantCounts.Files || res.Deleted != wantCounts.Deleted || res.Hashes != wantCounts.Hashes ||
			res.SchemaVersion != db.LatestVersion() || res.RestoredFrom != src {
			t.Errorf("Restore = %+v; want %+v at version %d from %s", res, wantCounts, db.LatestVersion(), src)
		}
		type key struct{ path, archivePath string }
		got := map[key]dto.FileWithHash{}
		var contents int64
		err := u.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
			if err := r.Files.Find(ctx, dto.FindFilter{MaxSize: -1, Deleted: true, IncludeArchived: true}, func(f dto.FileWithHash) error {
				got[key{f.Path, f.ArchivePath}] = f
				return nil
			}); err != nil {
				return err
			}
			// A lookup by md5 finds the content, now kept in files.
			alpha := restoreV3Digests("alpha")
			h, ok, err := r.Files.ContentByDigest(ctx, alpha.MD5)
			if err != nil {
				return err
			}
			if !ok || h.SHA256 != alpha.SHA256 {
				t.Errorf("ContentByDigest(md5 of alpha) = %+v, %v; want alpha's content", h, ok)
			}
			counts, err := r.Files.Counts(ctx)
			contents = counts.Hashes
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if contents != wantCounts.Hashes {
			t.Errorf("Counts().Hashes = %d, want %d", contents, wantCounts.Hashes)
		}
		if len(got) != len(restoreV3Files) {
			t.Errorf("the restored catalog holds %d files, want %d", len(got), len(restoreV3Files))
		}
		for _, w := range restoreV3Files {
			f, ok := got[key{w.path, w.archivePath}]
			var want dto.FileHash
			if w.content != "" {
				want = restoreV3Digests(w.content)
				want.Size = 5 // the file's size, which Find reports as the content's
			}
			switch {
			case !ok:
				t.Errorf("%s::%s is missing after the restore", w.path, w.archivePath)
			case f.Operation != w.op || f.ScanID != w.wantScan || f.IsArchived != (w.archivePath != ""):
				t.Errorf("%s::%s = %s in scan %d, archived %v; want %s in scan %d", w.path, w.archivePath,
					f.Operation, f.ScanID, f.IsArchived, w.op, w.wantScan)
			case f.Hash != want:
				t.Errorf("%s::%s has digests %+v, want %+v", w.path, w.archivePath, f.Hash, want)
			}
		}
		if backupTestSum(t, src) != sum {
			t.Error("the restore changed the backup")
		}
	}

	t.Run("over a catalog in use", func(t *testing.T) {
		c := backupTestOpen(t)
		backupTestWrite(t, c.UoW(), "/new", "N", 10)
		before := backupTestRows(t, c.UoW())
		res, err := c.Restore(ctx, src, RestoreOptions{})
		if err != nil {
			t.Fatalf("Restore a version-3 backup: %v", err)
		}
		check(t, res, c.UoW())
		if v, err := c.DB().Version(ctx); err != nil || v != db.LatestVersion() {
			t.Errorf("restored catalog at version %d, %v; want %d", v, err, db.LatestVersion())
		}
		// What was replaced is kept, whole.
		if res.SafetyBackup == "" || res.Damaged {
			t.Fatalf("Restore = %+v, want a verified safety backup", res)
		}
		if got := restoreTestRows(t, res.SafetyBackup); !slices.Equal(got, before) {
			t.Errorf("the safety backup holds %d rows, want the %d that were replaced", len(got), len(before))
		}
		if left := backupTestLeftovers(t, filepath.Dir(c.DB().Path())); len(left) > 0 {
			t.Errorf("temporary files left beside the catalog: %v", left)
		}
	})

	t.Run("where there is no catalog", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "index.db")
		p, err := PlanRestore(ctx, path, src, db.DefaultOptions(), RestoreOptions{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Missing || p.Source.SchemaVersion != 3 {
			t.Errorf("plan: missing %v, source %+v; want missing, version 3", p.Missing, p.Source)
		}
		res, err := p.Run(ctx)
		if err != nil {
			t.Fatalf("Run a restore of a version-3 backup: %v", err)
		}
		if h := Health(ctx, path, db.DefaultOptions(), true); !soundExceptPermissions(h) {
			t.Errorf("health after the restore: %s: %+v", h.Status, h.Checks)
		}
		c, err := Open(ctx, path, db.Options{MustExist: true}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		check(t, res, c.UoW())
	})
}

// TestRestoreOverCatalogThatCannotBeUpgraded proves that a catalog whose
// migration fails on its data (here a stray table in the way of 0004) is
// restored over, with a copy of it kept, instead of blocking the very
// restore that would repair it.
func TestRestoreOverCatalogThatCannotBeUpgraded(t *testing.T) {
	ctx := context.Background()
	src := restoreV3Backup(t)
	path := filepath.Join(t.TempDir(), "index.db")
	dbtest.WriteOldCatalog(t, path, 3, func(exec func(q string, args ...any)) {
		exec("INSERT INTO files (machine, path, name, size, modified, scanned, operation) VALUES ('m', '/kept', 'kept', 1, 1, 1, 'ADD')")
		exec("CREATE TABLE files_new (x)")
	})
	if _, err := db.Open(ctx, path, db.Options{MustExist: true}); !errors.Is(err, db.ErrUpgrade) {
		t.Fatalf("opening a catalog 0004 cannot upgrade: %v; want ErrUpgrade", err)
	}
	p, err := PlanRestore(ctx, path, src, db.DefaultOptions(), RestoreOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Run(ctx)
	if err != nil {
		t.Fatalf("restore over it: %v", err)
	}
	// It passes integrity_check, so the copy kept is a verified one, of its
	// own (old) schema, with its row.
	if info, err := db.Inspect(ctx, res.SafetyBackup, true); err != nil || info.SchemaVersion != 3 || info.Files != 1 {
		t.Errorf("safety copy %q: %+v, %v; want schema 3 with the 1 file it held", res.SafetyBackup, info, err)
	}
	if h := Health(ctx, path, db.DefaultOptions(), true); !soundExceptPermissions(h) {
		t.Errorf("health after the restore: %s: %+v", h.Status, h.Checks)
	}
}
