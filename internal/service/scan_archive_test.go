package service

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/mholt/archives"

	"github.com/indexer/indexer/internal/archive"
	"github.com/indexer/indexer/internal/archive/archivetest"
	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dbtest"
	"github.com/indexer/indexer/internal/dto"
)

// The helpers here carry an "arc" prefix so that they cannot collide with
// the scan tests' own.

func arcCatalog(tb testing.TB) *Catalog {
	tb.Helper()
	c, err := Open(context.Background(), dbtest.Location(tb, filepath.Join(tb.TempDir(), "index.db")), db.DefaultOptions(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

func arcScan(tb testing.TB, c *Catalog, root string, opts ScanOptions) ScanReport {
	tb.Helper()
	opts.Machine = "m"
	rep, err := c.Scan(context.Background(), []string{root}, opts)
	if err != nil {
		tb.Fatalf("scan: %v", err)
	}
	return rep
}

func arcWrite(tb testing.TB, p string, data []byte) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// arcSettle waits until the files written so far are out of the racy
// window, so that the next scan trusts their validators afterwards.
func arcSettle() { time.Sleep(racyWindow + 50*time.Millisecond) }

// arcRow is a files row with its content, read with SQL of its own so as not
// to trust the code under test.
type arcRow struct {
	Path        string         `db:"path"`
	ArchivePath string         `db:"archive_path"`
	Name        string         `db:"name"`
	Size        int64          `db:"size"`
	ModifiedSec int64          `db:"modified_sec"`
	ModifiedNs  int64          `db:"modified_nsec"`
	Op          string         `db:"operation"`
	IsArchived  bool           `db:"is_archived"`
	ScanID      int64          `db:"scan_id"`
	CtimeNS     int64          `db:"ctime_ns"`
	MD5         sql.NullString `db:"md5"`
	SHA1        sql.NullString `db:"sha1"`
	SHA256      sql.NullString `db:"sha256"`
}

// arcRows returns every row, keyed "PATH" for files and "PATH::INNER" for
// archive entries.
func arcRows(tb testing.TB, c *Catalog) map[string]arcRow {
	tb.Helper()
	var rows []arcRow
	err := c.DB().WithRead(func(r *sqlx.DB) error {
		return r.Select(&rows, `SELECT path, archive_path, name, size, modified_sec, modified_nsec, operation,
			is_archived, scan_id, ctime_ns, `+hexDigests(c)+` FROM files`)
	})
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]arcRow{}
	for _, r := range rows {
		out[entryPath(r.Path, r.ArchivePath)] = r
	}
	return out
}

// arcCheck asserts that the row at key holds data, present.
func arcCheck(tb testing.TB, rows map[string]arcRow, key string, data []byte) {
	tb.Helper()
	r, ok := rows[key]
	if !ok {
		tb.Errorf("%s: no row", key)
		return
	}
	m, s1, s256 := md5.Sum(data), sha1.Sum(data), sha256.Sum256(data)
	if r.MD5.String != hex.EncodeToString(m[:]) || r.SHA1.String != hex.EncodeToString(s1[:]) ||
		r.SHA256.String != hex.EncodeToString(s256[:]) || r.Size != int64(len(data)) {
		tb.Errorf("%s: size %d, md5 %s, sha1 %s, sha256 %s; want the digests of its %d bytes", key, r.Size, r.MD5.String, r.SHA1.String, r.SHA256.String, len(data))
	}
	if r.Op == string(dto.OpDel) {
		tb.Errorf("%s: DEL", key)
	}
}

// arcContent is what every archive of the format test holds.
func arcContent() []archivetest.File {
	return []archivetest.File{
		{Name: "a.txt", Data: []byte("alpha\n")},
		{Name: "dir/b.txt", Data: []byte(strings.Repeat("bravo ", 20000))},
		{Name: "empty", Data: []byte{}},
	}
}

func TestScanIndexesTheEntriesOfEveryFormat(t *testing.T) {
	root := t.TempDir()
	files := arcContent()
	tr := archivetest.Tar(t, files)
	sevenZip, err := os.ReadFile("../archive/testdata/plain.7z") // made with 7-Zip: same content
	if err != nil {
		t.Fatal(err)
	}
	archivesByName := map[string][]byte{
		"a.zip":     archivetest.Zip(t, files, zip.Deflate),
		"a.tar":     tr,
		"a.tar.gz":  archivetest.Compress(t, archives.Gz{}, tr),
		"a.tar.bz2": archivetest.Compress(t, archives.Bz2{}, tr),
		"a.tar.xz":  archivetest.Compress(t, archives.Xz{}, tr),
		"a.tar.zst": archivetest.Compress(t, archives.Zstd{}, tr),
		"a.7z":      sevenZip,
		"a.rar":     archivetest.Rar(files),
		// Recognised by content, whatever the name says.
		"holiday.jpg": archivetest.Zip(t, files, zip.Store),
		"data.bin":    archivetest.Compress(t, archives.Zstd{}, tr),
	}
	for name, b := range archivesByName {
		arcWrite(t, filepath.Join(root, name), b)
	}
	// Not archives, whatever the name says: no entries, no failure.
	arcWrite(t, filepath.Join(root, "fake.zip"), []byte("not a zip at all\n"))
	arcWrite(t, filepath.Join(root, "notes.txt.gz"), archivetest.Compress(t, archives.Gz{}, []byte("a lone gzip file\n")))

	c := arcCatalog(t)
	rep := arcScan(t, c, root, ScanOptions{Archives: true, Workers: 2})
	if rep.Status != dto.ScanComplete || len(rep.Failures) != 0 {
		t.Fatalf("scan %s, failures %v", rep.Status, rep.Failures)
	}
	rows := arcRows(t, c)
	wantRows := len(archivesByName)*(1+len(files)) + 2
	if len(rows) != wantRows || rep.Counts.Added != int64(wantRows) {
		t.Errorf("%d rows, %d added; want %d", len(rows), rep.Counts.Added, wantRows)
	}
	for name, b := range archivesByName {
		p := filepath.Join(root, name)
		arcCheck(t, rows, p, b)
		if rows[p].IsArchived {
			t.Errorf("%s: the archive's own row is_archived", name)
		}
		for _, f := range files {
			key := p + "::" + f.Name
			arcCheck(t, rows, key, f.Data)
			r := rows[key]
			if !r.IsArchived || r.Path != p || r.ArchivePath != f.Name || r.Name != filepath.Base(f.Name) ||
				r.Op != string(dto.OpAdd) || r.ScanID != rep.ID {
				t.Errorf("%s: %+v", key, r)
			}
			if m := time.Unix(r.ModifiedSec, r.ModifiedNs); !m.Equal(archivetest.Mod) {
				t.Errorf("%s: modified %v, want the archive's %v", key, m, archivetest.Mod)
			}
		}
	}
	for _, name := range []string{"fake.zip", "notes.txt.gz"} {
		for k := range rows {
			if strings.HasPrefix(k, filepath.Join(root, name)+"::") {
				t.Errorf("%s has entries: %s", name, k)
			}
		}
	}

	// With archives off, the same tree has no entries.
	c2 := arcCatalog(t)
	rep = arcScan(t, c2, root, ScanOptions{})
	if n := len(arcRows(t, c2)); n != len(archivesByName)+2 || rep.Counts.Added != int64(n) {
		t.Errorf("archives off: %d rows, %+v", n, rep.Counts)
	}
}

func TestScanArchiveIncremental(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "a.zip")
	arcWrite(t, p, archivetest.Zip(t, []archivetest.File{
		{Name: "one.txt", Data: []byte("1")}, {Name: "two.txt", Data: []byte("2")}, {Name: "three.txt", Data: []byte("3")},
	}, zip.Deflate))
	arcSettle()
	c := arcCatalog(t)
	opts := ScanOptions{Archives: true}
	first := arcScan(t, c, root, opts)
	if first.Counts.Added != 4 {
		t.Fatalf("first scan %+v", first.Counts)
	}

	// Unchanged: the archive is not opened (nothing is hashed, neither the
	// file nor its entries), and nothing is written: every row still names
	// the scan that added it.
	second := arcScan(t, c, root, opts)
	if got, want := second.Counts, (dto.ScanCounts{FilesSeen: 4, Unchanged: 4}); got != want {
		t.Errorf("unchanged rescan %+v, want %+v", got, want)
	}
	for k, r := range arcRows(t, c) {
		if r.ScanID != first.ID || r.Op != string(dto.OpAdd) {
			t.Errorf("%s: scan %d op %s, want written by scan %d, ADD", k, r.ScanID, r.Op, first.ID)
		}
	}

	// Changed: entries are replaced. one.txt is the same, two.txt changed,
	// three.txt is gone, four.txt is new.
	arcWrite(t, p, archivetest.Zip(t, []archivetest.File{
		{Name: "one.txt", Data: []byte("1")}, {Name: "two.txt", Data: []byte("TWO")}, {Name: "four.txt", Data: []byte("4")},
	}, zip.Store))
	arcSettle()
	third := arcScan(t, c, root, opts)
	if got, want := third.Counts, (dto.ScanCounts{FilesSeen: 4, Added: 1, Modified: 2, Unchanged: 1, Deleted: 1, BytesHashed: third.Counts.BytesHashed}); got != want {
		t.Errorf("changed rescan %+v, want %+v", got, want)
	}
	rows := arcRows(t, c)
	for key, op := range map[string]dto.Operation{
		p: dto.OpMod, p + "::one.txt": dto.OpAdd, p + "::two.txt": dto.OpMod, p + "::three.txt": dto.OpDel, p + "::four.txt": dto.OpAdd,
	} {
		if r := rows[key]; r.Op != string(op) || r.ScanID != third.ID {
			t.Errorf("%s: %s by scan %d, want %s by scan %d", key, r.Op, r.ScanID, op, third.ID)
		}
	}
	arcCheck(t, rows, p+"::two.txt", []byte("TWO"))
	if r := rows[p+"::three.txt"]; !r.SHA256.Valid {
		t.Error("three.txt: a DEL row keeps its last content")
	}

	// Gone: the archive and its present entries become DEL.
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	fourth := arcScan(t, c, root, opts)
	if fourth.Counts.Deleted != 4 {
		t.Errorf("archive removed: %+v, want 4 deleted (the file and its 3 entries)", fourth.Counts)
	}
	for k, r := range arcRows(t, c) {
		if r.Op != string(dto.OpDel) {
			t.Errorf("%s: %s, want DEL", k, r.Op)
		}
	}
}

func TestScanArchivesOffKeepsOrDropsEntries(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "a.tar")
	arcWrite(t, p, archivetest.Tar(t, []archivetest.File{{Name: "x", Data: []byte("x")}}))
	arcSettle()
	c := arcCatalog(t)
	first := arcScan(t, c, root, ScanOptions{Archives: true})

	// Unchanged with archives off: the entry is neither seen nor gone.
	arcScan(t, c, root, ScanOptions{})
	if r := arcRows(t, c)[p+"::x"]; r.Op != string(dto.OpAdd) || r.ScanID != first.ID {
		t.Errorf("entry after an unchanged scan with archives off: %+v", r)
	}
	// Changed with archives off: the old entries no longer describe it.
	arcWrite(t, p, archivetest.Tar(t, []archivetest.File{{Name: "x", Data: []byte("changed")}}))
	rep := arcScan(t, c, root, ScanOptions{})
	if r := arcRows(t, c)[p+"::x"]; r.Op != string(dto.OpDel) || rep.Counts.Deleted != 1 {
		t.Errorf("entry after a changed scan with archives off: %+v, %+v", r, rep.Counts)
	}
}

func TestScanNestedArchiveDepth(t *testing.T) {
	root := t.TempDir()
	inner := archivetest.Zip(t, []archivetest.File{{Name: "deep/deep.txt", Data: []byte("deep\n")}}, zip.Deflate)
	p := filepath.Join(root, "outer.zip")
	arcWrite(t, p, archivetest.Zip(t, []archivetest.File{
		{Name: "inner.zip", Data: inner}, {Name: "top.txt", Data: []byte("top\n")},
	}, zip.Deflate))

	c := arcCatalog(t)
	arcScan(t, c, root, ScanOptions{Archives: true}) // depth 1, the default
	rows := arcRows(t, c)
	arcCheck(t, rows, p+"::inner.zip", inner)
	arcCheck(t, rows, p+"::top.txt", []byte("top\n"))
	if len(rows) != 3 {
		t.Errorf("depth 1: %d rows, want 3 (the nested archive is an entry, not opened)", len(rows))
	}

	c = arcCatalog(t)
	arcScan(t, c, root, ScanOptions{Archives: true, ArchiveLimits: archive.Limits{MaxDepth: 2}})
	rows = arcRows(t, c)
	key := p + "::inner.zip::deep/deep.txt"
	arcCheck(t, rows, key, []byte("deep\n"))
	if r := rows[key]; r.Name != "deep.txt" || r.ArchivePath != "inner.zip::deep/deep.txt" || r.Path != p {
		t.Errorf("depth 2: %+v", r)
	}
	if len(rows) != 4 {
		t.Errorf("depth 2: %d rows, want 4", len(rows))
	}
}

// arcBomb is a zip with a small entry, then 32 MiB of zeros (about 32 KiB
// packed), then another small entry.
func arcBomb(tb testing.TB) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("first.txt")
	w.Write([]byte("first\n"))
	w, _ = zw.Create("zeros.bin")
	zeros := make([]byte, 1<<20)
	for range 32 {
		w.Write(zeros)
	}
	w, _ = zw.Create("last.txt")
	w.Write([]byte("last\n"))
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func TestScanStopsAZipBombAndGoesOn(t *testing.T) {
	root := t.TempDir()
	bomb := arcBomb(t)
	arcWrite(t, filepath.Join(root, "bomb.zip"), bomb)
	ok := archivetest.Zip(t, []archivetest.File{{Name: "fine.txt", Data: []byte("fine\n")}}, zip.Deflate)
	arcWrite(t, filepath.Join(root, "ok.zip"), ok)
	arcWrite(t, filepath.Join(root, "plain.txt"), []byte("plain\n"))
	arcSettle() // so that only the failure can leave the bomb's validators unsettled
	c := arcCatalog(t)
	rep := arcScan(t, c, root, ScanOptions{Archives: true, ArchiveLimits: archive.Limits{MaxRatio: 100}})

	if rep.Status != dto.ScanPartial || len(rep.Failures) != 1 {
		t.Fatalf("scan %s with failures %v, want partial with the bomb's", rep.Status, rep.Failures)
	}
	f := rep.Failures[0]
	if f.Path != filepath.Join(root, "bomb.zip") || !errors.Is(f.Err, archive.ErrLimit) ||
		!strings.Contains(f.Err.Error(), "compression-ratio limit of 100:1") {
		t.Errorf("failure %s: %v", f.Path, f.Err)
	}
	// Far less than the 32 MiB were read: the ratio stopped it at 100 times
	// the archive's size.
	if max := int64(len(bomb))*100 + int64(len(bomb)) + 2<<20; rep.Counts.BytesHashed > max {
		t.Errorf("hashed %d bytes, want under %d", rep.Counts.BytesHashed, max)
	}
	rows := arcRows(t, c)
	arcCheck(t, rows, filepath.Join(root, "bomb.zip"), bomb)
	arcCheck(t, rows, filepath.Join(root, "bomb.zip::first.txt"), []byte("first\n"))
	for _, k := range []string{"bomb.zip::zeros.bin", "bomb.zip::last.txt"} {
		if _, ok := rows[filepath.Join(root, k)]; ok {
			t.Errorf("%s has a row", k)
		}
	}
	arcCheck(t, rows, filepath.Join(root, "ok.zip::fine.txt"), []byte("fine\n"))
	arcCheck(t, rows, filepath.Join(root, "plain.txt"), []byte("plain\n"))
	if rows[filepath.Join(root, "bomb.zip")].CtimeNS != 0 {
		t.Error("the bomb's row has validators a rescan trusts: its problem would not be reported again")
	}
}

func TestScanTruncatedArchive(t *testing.T) {
	root := t.TempDir()
	files := []archivetest.File{
		{Name: "a.txt", Data: []byte("alpha\n")},
		{Name: "big.bin", Data: bytes.Repeat([]byte("0123456789abcdef"), 64<<10)}, // 1 MiB
		{Name: "z.txt", Data: []byte("zulu\n")},
	}
	tgz := archivetest.Compress(t, archives.Gz{}, archivetest.Tar(t, files))
	p := filepath.Join(root, "backup.tgz")
	arcWrite(t, p, tgz)
	arcSettle()
	c := arcCatalog(t)
	if rep := arcScan(t, c, root, ScanOptions{Archives: true}); rep.Counts.Added != 4 {
		t.Fatalf("first scan %+v", rep.Counts)
	}

	cut := tgz[:len(tgz)/2]
	arcWrite(t, p, cut)
	arcSettle()
	for i := range 2 { // reported again at the next scan, the file being read again
		rep := arcScan(t, c, root, ScanOptions{Archives: true})
		if rep.Status != dto.ScanPartial || len(rep.Failures) != 1 {
			t.Fatalf("scan %d: %s, failures %v; want one", i, rep.Status, rep.Failures)
		}
		f := rep.Failures[0]
		if !strings.HasPrefix(f.Path, p) || !errors.Is(f.Err, archive.ErrCorrupt) ||
			!strings.HasPrefix(f.Err.Error(), "corrupt or truncated: ") {
			t.Errorf("scan %d: failure %s: %v", i, f.Path, f.Err)
		}
		rows := arcRows(t, c)
		arcCheck(t, rows, p, cut) // the file row is kept, with its new content
		arcCheck(t, rows, p+"::a.txt", []byte("alpha\n"))
		// Entries past the damage are not known to be gone: kept.
		if r := rows[p+"::z.txt"]; r.Op != string(dto.OpAdd) {
			t.Errorf("scan %d: z.txt %s, want kept", i, r.Op)
		}
		if rep.Counts.Deleted != 0 {
			t.Errorf("scan %d: %d deleted", i, rep.Counts.Deleted)
		}
	}
}

func TestScanEncryptedIsASkip(t *testing.T) {
	root := t.TempDir()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.CreateRaw(&zip.FileHeader{Name: "secret.txt", Method: zip.Store, Flags: 0x1,
		CompressedSize64: 24, UncompressedSize64: 12, CRC32: 1})
	w.Write(bytes.Repeat([]byte{0xA5}, 24))
	w, _ = zw.Create("clear.txt")
	w.Write([]byte("clear\n"))
	zw.Close()
	arcWrite(t, filepath.Join(root, "mixed.zip"), buf.Bytes())
	locked, err := os.ReadFile("../archive/testdata/encrypted-headers.7z")
	if err != nil {
		t.Fatal(err)
	}
	arcWrite(t, filepath.Join(root, "locked.7z"), locked)

	c := arcCatalog(t)
	rep := arcScan(t, c, root, ScanOptions{Archives: true})
	if rep.Status != dto.ScanComplete || rep.Counts.Failed != 0 || rep.Counts.Skipped != 2 {
		t.Fatalf("scan %s %+v, failures %v; want complete with 2 skips", rep.Status, rep.Counts, rep.Failures)
	}
	var skips []string
	for _, s := range rep.Skips {
		skips = append(skips, s.Path+": "+s.Reason)
	}
	sort.Strings(skips)
	want := []string{filepath.Join(root, "locked.7z") + ": encrypted", filepath.Join(root, "mixed.zip") + "::secret.txt: encrypted"}
	if strings.Join(skips, "|") != strings.Join(want, "|") {
		t.Errorf("skips %q, want %q", skips, want)
	}
	rows := arcRows(t, c)
	if _, ok := rows[filepath.Join(root, "mixed.zip::secret.txt")]; ok {
		t.Error("the encrypted entry has a row")
	}
	arcCheck(t, rows, filepath.Join(root, "mixed.zip::clear.txt"), []byte("clear\n"))
	arcCheck(t, rows, filepath.Join(root, "locked.7z"), locked)
}

func TestScanEntryNamesAreOnlyText(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	names := []string{"../evil", "../../etc/passwd", "/abs/file", "ok/../../x"}
	var files []archivetest.File
	for _, n := range names {
		files = append(files, archivetest.File{Name: n, Data: []byte(n)})
	}
	p := filepath.Join(root, "evil.zip")
	arcWrite(t, p, archivetest.Zip(t, files, zip.Deflate))
	// Legacy zip name: CP437 "Übersicht.txt", without the UTF-8 flag.
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "\x9abersicht.txt", NonUTF8: true})
	w.Write([]byte("cp437"))
	zw.Close()
	arcWrite(t, filepath.Join(root, "legacy.zip"), buf.Bytes())

	c := arcCatalog(t)
	t.Chdir(root)
	rep := arcScan(t, c, root, ScanOptions{Archives: true, ArchiveLimits: archive.Limits{MaxDepth: 3}})
	if rep.Status != dto.ScanComplete {
		t.Fatalf("scan %s %v", rep.Status, rep.Failures)
	}
	rows := arcRows(t, c)
	for _, n := range names {
		arcCheck(t, rows, p+"::"+n, []byte(n))
		if r := rows[p+"::"+n]; r.ArchivePath != n {
			t.Errorf("archive_path %q, want %q verbatim", r.ArchivePath, n)
		}
	}
	arcCheck(t, rows, filepath.Join(root, "legacy.zip::Übersicht.txt"), []byte("cp437"))
	// Nothing was written anywhere: the tree holds what the test wrote.
	for dir, want := range map[string]int{base: 1, root: 2} {
		if got, _ := os.ReadDir(dir); len(got) != want {
			t.Errorf("%s holds %d entries, want %d", dir, len(got), want)
		}
	}
}

func TestScanDuplicateEntryNames(t *testing.T) {
	root := t.TempDir()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, data := range []string{"first", "second"} {
		tw.WriteHeader(&tar.Header{Name: "same.txt", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data))})
		tw.Write([]byte(data))
	}
	tw.Close()
	p := filepath.Join(root, "dup.tar")
	arcWrite(t, p, buf.Bytes())
	c := arcCatalog(t)
	rep := arcScan(t, c, root, ScanOptions{Archives: true})
	if rep.Status != dto.ScanComplete || len(rep.Skips) != 1 || rep.Skips[0].Path != p+"::same.txt" ||
		rep.Skips[0].Reason != ReasonDuplicateEntry {
		t.Fatalf("scan %s, skips %+v, failures %v", rep.Status, rep.Skips, rep.Failures)
	}
	arcCheck(t, arcRows(t, c), p+"::same.txt", []byte("first"))
}

func TestEntryName(t *testing.T) {
	for in, want := range map[string]string{
		"a.txt": "a.txt", "dir/sub/a.txt": "a.txt", "inner.zip::d/x.bin": "x.bin", "../evil": "evil", "/": "/",
	} {
		if got := entryName(in); got != want {
			t.Errorf("entryName(%q) = %q, want %q", in, got, want)
		}
	}
}
