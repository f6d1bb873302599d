package db_test

import (
	"context"
	"database/sql"
	"encoding/hex"
	"io/fs"
	"path/filepath"
	"slices"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/migrations"
)

// v3Migrations are the migrations before 0004_inline_digests.sql, which moved
// the digests from the hashes table into files.
var v3Migrations = []string{"0001_init.sql", "0002_query_indexes.sql", "0003_scan_owner.sql"}

// v3File is a file of a version-3 catalog: its row and, through hash_id, its
// content's hex digests ("" for a file never hashed).
type v3File struct {
	ID          int64
	Path        string
	ArchivePath string
	Operation   string
	HashID      int64 // 0: NULL
	Created     int64 // 0: NULL
	Nlink       int64
}

type v3Hash struct {
	ID                int64
	MD5, SHA1, SHA256 string
}

// v3Hashes are the contents of the version-3 catalog: two that files refer
// to, and one that none does.
var v3Hashes = []v3Hash{
	{7, "00112233445566778899aabbccddeeff", "00112233445566778899aabbccddeeff00112233",
		"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"},
	{9, "ffeeddccbbaa99887766554433221100", "ffeeddccbbaa99887766554433221100ffeeddcc",
		"ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"},
	{11, "0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef01234567",
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
}

// v3Files: two files share content 7, one deleted file and an archive entry
// have content 9, and one file was never hashed. Ids have gaps, so a
// migration that renumbered rows would show.
var v3Files = []v3File{
	{ID: 3, Path: "/a/one.txt", Operation: "ADD", HashID: 7, Created: 5e18, Nlink: 2},
	{ID: 5, Path: "/a/two.txt", Operation: "MOD", HashID: 7, Nlink: 2},
	{ID: 8, Path: "/b/gone.txt", Operation: "DEL", HashID: 9, Nlink: 1},
	{ID: 13, Path: "/b/never-hashed.bin", Operation: "ADD", Nlink: 1},
	{ID: 21, Path: "/c/pack.zip", ArchivePath: "dir/inner.txt", Operation: "ADD", HashID: 9, Nlink: 1},
}

// writeV3Catalog writes, at path, a catalog at schema version 3 as an older
// indexer left it (rollback journal, closed), holding v3Hashes, v3Files and
// one scan.
func writeV3Catalog(t *testing.T, path string) {
	t.Helper()
	x, err := sql.Open(db.DriverName, path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := x.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// The history table as migrate writes it.
	exec(`CREATE TABLE schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL)`)
	for i, name := range v3Migrations {
		b, err := fs.ReadFile(migrations.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		exec(string(b))
		exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", i+1, name, int64(i+1)*1e18)
	}
	exec(`INSERT INTO scans (id, machine, roots, started, finished, status, host, pid)
		VALUES (4, 'm', '["/"]', ?, ?, 'complete', 'h', 42)`, int64(1e18), int64(2e18))
	for _, h := range v3Hashes {
		exec("INSERT INTO hashes (id, size, md5, sha1, sha256) VALUES (?, 10, ?, ?, ?)", h.ID, h.MD5, h.SHA1, h.SHA256)
	}
	for i, f := range v3Files {
		var hashID, created any
		if f.HashID != 0 {
			hashID = f.HashID
		}
		if f.Created != 0 {
			created = f.Created
		}
		exec(`INSERT INTO files (id, machine, path, archive_path, name, size, created, modified, scanned,
			operation, is_archived, hash_id, scan_id, mtime_ns, ctime_ns, inode, device, nlink)
			VALUES (?, 'm', ?, ?, ?, 10, ?, ?, ?, ?, ?, ?, 4, ?, ?, ?, 77, ?)`,
			f.ID, f.Path, f.ArchivePath, filepath.Base(f.Path), created, int64(i)*1e9, int64(3e18),
			f.Operation, f.ArchivePath != "", hashID, int64(i)*1e9, int64(i)*1e9+1, 1000+i, f.Nlink)
	}
}

// fileState is what a migration must keep of a file, whatever the schema:
// every column but the digests' storage, and the digests as hex.
type fileState struct {
	ID          int64          `db:"id"`
	Machine     string         `db:"machine"`
	Path        string         `db:"path"`
	ArchivePath string         `db:"archive_path"`
	Name        string         `db:"name"`
	Size        int64          `db:"size"`
	Created     sql.NullInt64  `db:"created"`
	Modified    int64          `db:"modified"`
	Scanned     int64          `db:"scanned"`
	Operation   string         `db:"operation"`
	IsArchived  bool           `db:"is_archived"`
	ScanID      sql.NullInt64  `db:"scan_id"`
	MtimeNS     int64          `db:"mtime_ns"`
	CtimeNS     int64          `db:"ctime_ns"`
	Inode       int64          `db:"inode"`
	Device      int64          `db:"device"`
	Nlink       int64          `db:"nlink"`
	MD5         sql.NullString `db:"md5"`
	SHA1        sql.NullString `db:"sha1"`
	SHA256      sql.NullString `db:"sha256"`
}

const fileStateColumns = `f.id, f.machine, f.path, f.archive_path, f.name, f.size, f.created, f.modified,
	f.scanned, f.operation, f.is_archived, f.scan_id, f.mtime_ns, f.ctime_ns, f.inode, f.device, f.nlink`

// readFiles returns the files of the catalog at path, by id, reading the
// digests from hashes (version 3) or from files (version 4 on).
func readFiles(t *testing.T, path string, inline bool) []fileState {
	t.Helper()
	x, err := sqlx.Open(db.DriverName, "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	var rows []fileState
	if inline {
		// hex(NULL) is '', so the NULLs are kept apart.
		err = x.Select(&rows, `SELECT `+fileStateColumns+`,
			CASE WHEN f.md5 IS NULL THEN NULL ELSE lower(hex(f.md5)) END AS md5,
			CASE WHEN f.sha1 IS NULL THEN NULL ELSE lower(hex(f.sha1)) END AS sha1,
			CASE WHEN f.sha256 IS NULL THEN NULL ELSE lower(hex(f.sha256)) END AS sha256
			FROM files f ORDER BY f.id`)
	} else {
		err = x.Select(&rows, `SELECT `+fileStateColumns+`, h.md5, h.sha1, h.sha256
			FROM files f LEFT JOIN hashes h ON h.id = f.hash_id ORDER BY f.id`)
	}
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestMigrateInlinesDigests upgrades a version-3 catalog, through Open (a
// catalog in use) and Migrate (a restored backup), and checks that 0004 kept
// every file: its id, path and other columns, and its content's digests, now
// raw bytes in files, NULL for the file never hashed; and that the counts a
// backup reports, distinct contents included, did not change.
func TestMigrateInlinesDigests(t *testing.T) {
	ctx := context.Background()
	for name, upgrade := range map[string]func(t *testing.T, path string){
		"Open": func(t *testing.T, path string) {
			d, err := db.Open(ctx, path, db.DefaultOptions())
			if err != nil {
				t.Fatalf("Open a version-3 catalog: %v", err)
			}
			if problems, err := d.Check(ctx, true); err != nil || len(problems) > 0 {
				t.Errorf("integrity after the migration: %v, %v", problems, err)
			}
			if n, err := d.ForeignKeyViolations(ctx); err != nil || n != 0 {
				t.Errorf("foreign key violations after the migration: %d, %v", n, err)
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
		},
		"Migrate": func(t *testing.T, path string) {
			if v, err := db.Migrate(ctx, path); err != nil || v != db.LatestVersion() {
				t.Fatalf("Migrate a version-3 catalog = %d, %v; want %d", v, err, db.LatestVersion())
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "index.db")
			writeV3Catalog(t, path)
			before := readFiles(t, path, false)
			if len(before) != len(v3Files) {
				t.Fatalf("the version-3 catalog holds %d files, want %d", len(before), len(v3Files))
			}
			infoBefore, err := db.Inspect(ctx, path, true)
			if err != nil {
				t.Fatalf("Inspect the version-3 catalog: %v", err)
			}
			// Contents 7 and 9; 11 is referred to by no file.
			wantCounts := db.Counts{Files: 4, Deleted: 1, Hashes: 2, Scans: 1}
			if infoBefore.SchemaVersion != 3 || infoBefore.Counts != wantCounts {
				t.Fatalf("Inspect the version-3 catalog = version %d, %+v; want 3, %+v",
					infoBefore.SchemaVersion, infoBefore.Counts, wantCounts)
			}

			upgrade(t, path)
			// Inspect first: it refuses a file with a log beside it, which the
			// read-only opens below may leave.
			infoAfter, err := db.Inspect(ctx, path, true)
			if err != nil {
				t.Fatalf("Inspect after the migration: %v", err)
			}
			if infoAfter.SchemaVersion != db.LatestVersion() || infoAfter.Integrity != "ok" || infoAfter.Counts != infoBefore.Counts {
				t.Errorf("Inspect after the migration = version %d, integrity %q, %+v; want %d, ok, %+v as before",
					infoAfter.SchemaVersion, infoAfter.Integrity, infoAfter.Counts, db.LatestVersion(), infoBefore.Counts)
			}

			after := readFiles(t, path, true)
			if !slices.Equal(after, before) {
				t.Errorf("files after the migration:\n%+v\nwant as before it:\n%+v", after, before)
			}
			// Spot-check the fixture against the result too, so that a
			// fixture that hashed nothing could not pass.
			byID := map[int64]fileState{}
			for _, f := range after {
				byID[f.ID] = f
			}
			hashes := map[int64]v3Hash{}
			for _, h := range v3Hashes {
				hashes[h.ID] = h
			}
			for _, f := range v3Files {
				got, ok := byID[f.ID]
				switch {
				case !ok:
					t.Errorf("file %d (%s) is gone", f.ID, f.Path)
				case got.Path != f.Path || got.ArchivePath != f.ArchivePath || got.Operation != f.Operation:
					t.Errorf("file %d = %s::%s %s, want %s::%s %s", f.ID, got.Path, got.ArchivePath, got.Operation, f.Path, f.ArchivePath, f.Operation)
				case f.HashID == 0 && (got.MD5.Valid || got.SHA1.Valid || got.SHA256.Valid):
					t.Errorf("never-hashed file %d has digests %+v %+v %+v, want NULL", f.ID, got.MD5, got.SHA1, got.SHA256)
				case f.HashID != 0 && (got.MD5.String != hashes[f.HashID].MD5 ||
					got.SHA1.String != hashes[f.HashID].SHA1 || got.SHA256.String != hashes[f.HashID].SHA256):
					t.Errorf("file %d has digests %s %s %s, want those of content %d: %+v",
						f.ID, got.MD5.String, got.SHA1.String, got.SHA256.String, f.HashID, hashes[f.HashID])
				}
			}
			// The digests are raw bytes of 16, 20 and 32, not hex text.
			checkRawDigests(t, path)

		})
	}
}

func checkRawDigests(t *testing.T, path string) {
	t.Helper()
	x, err := sqlx.Open(db.DriverName, "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	var rows []struct {
		ID     int64  `db:"id"`
		MD5    []byte `db:"md5"`
		SHA1   []byte `db:"sha1"`
		SHA256 []byte `db:"sha256"`
		Types  string `db:"types"`
	}
	if err := x.Select(&rows, `SELECT id, md5, sha1, sha256,
		typeof(md5) || ' ' || typeof(sha1) || ' ' || typeof(sha256) AS types
		FROM files WHERE sha256 IS NOT NULL ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 {
		t.Errorf("%d hashed files after the migration, want 4", len(rows))
	}
	for _, r := range rows {
		if r.Types != "blob blob blob" || len(r.MD5) != 16 || len(r.SHA1) != 20 || len(r.SHA256) != 32 {
			t.Errorf("file %d stores digests as %s of %d, %d, %d bytes (%s); want blobs of 16, 20, 32",
				r.ID, r.Types, len(r.MD5), len(r.SHA1), len(r.SHA256), hex.EncodeToString(r.SHA256))
		}
	}
}
