package db_test

import (
	"context"
	"database/sql"
	"encoding/hex"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dbtest"
	"github.com/indexer/indexer/internal/dto"
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
	ScanID      int64 // 0: scan 4, the fixture's one scan
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
// one scan, 4. damage, if not nil, then adds more rows through exec, on the
// same connection: foreign keys are enforced until it turns them off.
func writeV3Catalog(t *testing.T, path string, damage func(exec func(q string, args ...any))) {
	t.Helper()
	dbtest.WriteOldCatalog(t, path, 3, func(exec func(q string, args ...any)) {
		exec(`INSERT INTO scans (id, machine, roots, started, finished, status, host, pid)
			VALUES (4, 'm', '["/"]', ?, ?, 'complete', 'h', 42)`, int64(1e18), int64(2e18))
		insertV3Hashes(exec, v3Hashes)
		insertV3Files(exec, v3Files)
		if damage != nil {
			damage(exec)
		}
	})
}

func insertV3Hashes(exec func(q string, args ...any), hs []v3Hash) {
	for _, h := range hs {
		exec("INSERT INTO hashes (id, size, md5, sha1, sha256) VALUES (?, 10, ?, ?, ?)", h.ID, h.MD5, h.SHA1, h.SHA256)
	}
}

// insertV3Files inserts fs, in scan 4 unless a file says otherwise; the other
// columns are derived from the file's id.
func insertV3Files(exec func(q string, args ...any), fs []v3File) {
	for _, f := range fs {
		var hashID, created any
		if f.HashID != 0 {
			hashID = f.HashID
		}
		if f.Created != 0 {
			created = f.Created
		}
		scanID := f.ScanID
		if scanID == 0 {
			scanID = 4
		}
		i := f.ID
		exec(`INSERT INTO files (id, machine, path, archive_path, name, size, created, modified, scanned,
			operation, is_archived, hash_id, scan_id, mtime_ns, ctime_ns, inode, device, nlink)
			VALUES (?, 'm', ?, ?, ?, 10, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 77, ?)`,
			f.ID, f.Path, f.ArchivePath, filepath.Base(f.Path), created, i*1e9, int64(3e18),
			f.Operation, f.ArchivePath != "", hashID, scanID, i*1e9, i*1e9+1, 1000+i, f.Nlink)
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

const fileStateColumns = `f.id, f.machine, f.path, f.archive_path, f.name, f.size,
	f.scanned, f.operation, f.is_archived, f.scan_id, f.mtime_ns, f.ctime_ns, f.inode, f.device, f.nlink`

// v3Times are a version-3 file's times, Unix nanoseconds; latestTimes are
// the same, from the seconds and nanoseconds the latest schema holds (the
// fixtures' times are all within what nanoseconds in an int64 reach).
const (
	v3Times     = `f.created, f.modified`
	latestTimes = `CASE WHEN f.created_sec IS NULL THEN NULL ELSE f.created_sec * 1000000000 + f.created_nsec END AS created,
		f.modified_sec * 1000000000 + f.modified_nsec AS modified`
)

// readFiles returns the files of the catalog at path, by id, reading the
// digests from hashes (version 3) or from files (inline: the latest version).
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
		err = x.Select(&rows, `SELECT `+fileStateColumns+`, `+latestTimes+`,
			CASE WHEN f.md5 IS NULL THEN NULL ELSE lower(hex(f.md5)) END AS md5,
			CASE WHEN f.sha1 IS NULL THEN NULL ELSE lower(hex(f.sha1)) END AS sha1,
			CASE WHEN f.sha256 IS NULL THEN NULL ELSE lower(hex(f.sha256)) END AS sha256
			FROM files f ORDER BY f.id`)
	} else {
		err = x.Select(&rows, `SELECT `+fileStateColumns+`, `+v3Times+`, h.md5, h.sha1, h.sha256
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
			writeV3Catalog(t, path, nil)
			before := readFiles(t, path, false)
			if len(before) != len(v3Files) {
				t.Fatalf("the version-3 catalog holds %d files, want %d", len(before), len(v3Files))
			}
			infoBefore, err := db.Inspect(ctx, path, true)
			if err != nil {
				t.Fatalf("Inspect the version-3 catalog: %v", err)
			}
			// Contents 7 and 9; 11 is referred to by no file.
			wantCounts := dto.Counts{Files: 4, Deleted: 1, Hashes: 2, Scans: 1}
			if infoBefore.SchemaVersion != 3 || rowCounts(infoBefore.Counts) != wantCounts {
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
			checkRawDigests(t, path, 4)

		})
	}
}

func checkRawDigests(t *testing.T, path string, hashed int) {
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
	if len(rows) != hashed {
		t.Errorf("%d hashed files after the migration, want %d", len(rows), hashed)
	}
	for _, r := range rows {
		if r.Types != "blob blob blob" || len(r.MD5) != 16 || len(r.SHA1) != 20 || len(r.SHA256) != 32 {
			t.Errorf("file %d stores digests as %s of %d, %d, %d bytes (%s); want blobs of 16, 20, 32",
				r.ID, r.Types, len(r.MD5), len(r.SHA1), len(r.SHA256), hex.EncodeToString(r.SHA256))
		}
	}
}

// v3DamagedHashes are contents an older catalog may hold that no correct
// indexer wrote, but that hand edits or other tools can leave: md5 that is not
// hex, and digests in upper-case hex (the same content as 9, so the same
// content after the migration).
var v3DamagedHashes = []v3Hash{
	{12, "zz112233445566778899aabbccddeeff", "1212121212121212121212121212121212121212",
		"1212121212121212121212121212121212121212121212121212121212121212"},
	{14, strings.ToUpper(v3Hashes[1].MD5), strings.ToUpper(v3Hashes[1].SHA1), strings.ToUpper(v3Hashes[1].SHA256)},
}

// v3DamagedFiles: one in a scan whose row is gone, one that refers to a
// content with no row, one to the content with malformed md5, one to the
// upper-case one.
var v3DamagedFiles = []v3File{
	{ID: 34, Path: "/d/orphan-scan.txt", Operation: "ADD", HashID: 7, Nlink: 1, ScanID: 6},
	{ID: 55, Path: "/d/orphan-hash.txt", Operation: "ADD", HashID: 404, Nlink: 1},
	{ID: 89, Path: "/d/bad-md5.txt", Operation: "MOD", HashID: 12, Nlink: 1},
	{ID: 144, Path: "/d/upper.txt", Operation: "ADD", HashID: 14, Nlink: 1},
}

// damageV3 adds v3DamagedHashes and v3DamagedFiles to the fixture with foreign
// keys off, and deletes scan 6 after a file was recorded in it, as sqlite3
// (whose foreign keys are off unless turned on) would let a user do.
func damageV3(exec func(q string, args ...any)) {
	exec("PRAGMA foreign_keys = OFF")
	exec(`INSERT INTO scans (id, machine, roots, started, finished, status, host, pid)
		VALUES (6, 'm', '["/d"]', ?, ?, 'complete', 'h', 43)`, int64(2e18), int64(2e18)+5)
	insertV3Hashes(exec, v3DamagedHashes)
	insertV3Files(exec, v3DamagedFiles)
	exec("DELETE FROM scans WHERE id = 6")
}

// TestMigrateRepairsDamagedV3 upgrades a version-3 catalog holding rows that
// break its foreign keys or hold malformed digests, as health reports them but
// version 3 worked with. The migration must not fail on them: a scan_id of a
// missing scan becomes NULL, and a file whose content has no row or malformed
// digests gets no digests at all, never some of them, so that the next scan
// hashes it again. Every other row and column is kept, and the counts a
// restore compares are the same read before (version 3) and after.
func TestMigrateRepairsDamagedV3(t *testing.T) {
	ctx := context.Background()
	for name, upgrade := range map[string]func(t *testing.T, path string) error{
		"Open": func(t *testing.T, path string) error {
			d, err := db.Open(ctx, path, db.DefaultOptions())
			if err != nil {
				return err
			}
			return d.Close()
		},
		"Migrate": func(t *testing.T, path string) error {
			v, err := db.Migrate(ctx, path)
			if err == nil && v != db.LatestVersion() {
				t.Errorf("Migrate = version %d, want %d", v, db.LatestVersion())
			}
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "index.db")
			writeV3Catalog(t, path, damageV3)
			before := readFiles(t, path, false)
			if len(before) != len(v3Files)+len(v3DamagedFiles) {
				t.Fatalf("the version-3 catalog holds %d files, want %d", len(before), len(v3Files)+len(v3DamagedFiles))
			}
			if n := foreignKeyViolations(t, path); n != 2 {
				t.Fatalf("the version-3 catalog has %d foreign key violations, want 2 (the fixture is not damaged as it says)", n)
			}
			// Contents 7 and 9 (14 is 9 in upper case); 404 has no row, 12
			// has malformed md5 and 11 is referred to by no file.
			wantCounts := dto.Counts{Files: 8, Deleted: 1, Hashes: 2, Scans: 1}
			infoBefore, err := db.Inspect(ctx, path, true)
			if err != nil {
				t.Fatalf("Inspect the version-3 catalog: %v", err)
			}
			if infoBefore.SchemaVersion != 3 || rowCounts(infoBefore.Counts) != wantCounts {
				t.Errorf("Inspect the version-3 catalog = version %d, %+v; want 3, %+v",
					infoBefore.SchemaVersion, infoBefore.Counts, wantCounts)
			}
			// A restore's first step: a copy of the old file, counted in the
			// snapshot it copies, by that file's schema.
			cp := filepath.Join(t.TempDir(), "copy.db")
			if counts, err := db.CopyFile(ctx, path, cp); err != nil || counts != infoBefore.Counts {
				t.Errorf("CopyFile of the version-3 catalog = %+v, %v; want %+v as Inspect counts", counts, err, infoBefore.Counts)
			}

			if err := upgrade(t, path); err != nil {
				t.Fatalf("upgrade the damaged version-3 catalog: %v", err)
			}
			infoAfter, err := db.Inspect(ctx, path, true)
			if err != nil {
				t.Fatalf("Inspect after the migration: %v", err)
			}
			if infoAfter.SchemaVersion != db.LatestVersion() || infoAfter.Integrity != "ok" || rowCounts(infoAfter.Counts) != wantCounts {
				t.Errorf("Inspect after the migration = version %d, integrity %q, %+v; want %d, ok, %+v",
					infoAfter.SchemaVersion, infoAfter.Integrity, infoAfter.Counts, db.LatestVersion(), wantCounts)
			}
			if infoAfter.Counts != infoBefore.Counts {
				t.Errorf("counts after the migration %+v, before it %+v: a restore of the backup would fail its check",
					infoAfter.Counts, infoBefore.Counts)
			}
			if n := foreignKeyViolations(t, path); n != 0 {
				t.Errorf("%d foreign key violations after the migration, want 0", n)
			}

			// Every row as before, but for what the migration repairs.
			want := slices.Clone(before)
			noDigests := sql.NullString{}
			for i := range want {
				switch f := &want[i]; f.ID {
				case 34:
					f.ScanID = sql.NullInt64{}
				case 55, 89:
					f.MD5, f.SHA1, f.SHA256 = noDigests, noDigests, noDigests
				case 144:
					f.MD5.String = strings.ToLower(f.MD5.String)
					f.SHA1.String = strings.ToLower(f.SHA1.String)
					f.SHA256.String = strings.ToLower(f.SHA256.String)
				}
			}
			after := readFiles(t, path, true)
			if !slices.Equal(after, want) {
				t.Errorf("files after the migration:\n%+v\nwant:\n%+v", after, want)
			}
			// Spot-check against the fixture, so that a fixture or reading
			// that lost the damage could not pass.
			byID := map[int64]fileState{}
			for _, f := range after {
				byID[f.ID] = f
			}
			if f := byID[34]; f.ScanID.Valid || f.SHA256.String != v3Hashes[0].SHA256 {
				t.Errorf("file in the deleted scan: scan %+v, sha256 %q; want NULL and content 7's", f.ScanID, f.SHA256.String)
			}
			for _, id := range []int64{55, 89} {
				if f := byID[id]; f.MD5.Valid || f.SHA1.Valid || f.SHA256.Valid || f.Path == "" {
					t.Errorf("file %d (%s) has digests %+v %+v %+v, want all NULL", id, f.Path, f.MD5, f.SHA1, f.SHA256)
				}
			}
			if f := byID[144]; f.MD5.String != v3Hashes[1].MD5 || f.SHA1.String != v3Hashes[1].SHA1 || f.SHA256.String != v3Hashes[1].SHA256 {
				t.Errorf("file with upper-case digests has %s %s %s, want content 9's", f.MD5.String, f.SHA1.String, f.SHA256.String)
			}
			// 3, 5, 8, 21, 34 and 144; and no row has some digests but not all.
			checkRawDigests(t, path, 6)
			if n := countSQL(t, path, `SELECT COUNT(*) FROM files
				WHERE (md5 IS NULL) + (sha1 IS NULL) + (sha256 IS NULL) NOT IN (0, 3)`); n != 0 {
				t.Errorf("%d files have some digests but not all", n)
			}
		})
	}
}

func foreignKeyViolations(t *testing.T, path string) int {
	t.Helper()
	return countSQL(t, path, "SELECT COUNT(*) FROM pragma_foreign_key_check")
}

// countSQL runs a COUNT query on the catalog at path, read-only.
func countSQL(t *testing.T, path, q string) int {
	t.Helper()
	x, err := sqlx.Open(db.DriverName, "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	var n int
	if err := x.Get(&n, q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}
