package service

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dbtest"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/uow"
	"github.com/indexer/indexer/internal/walk"
)

// openTestCatalog opens a fresh catalog in its own temporary directory, away
// from the trees the tests scan.
func openTestCatalog(tb testing.TB) *Catalog {
	tb.Helper()
	return openCatalogAt(tb, dbtest.Location(tb, filepath.Join(tb.TempDir(), "catalog", "index.db")))
}

func openCatalogAt(tb testing.TB, path string) *Catalog {
	tb.Helper()
	c, err := Open(context.Background(), path, db.DefaultOptions(), nil)
	if err != nil {
		tb.Fatalf("open catalog: %v", err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// writeFile creates path (and its directories) with data.
func writeFile(tb testing.TB, path string, data []byte) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// randomBytes returns n reproducible pseudo-random bytes.
func randomBytes(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 0x5ca1ab1e))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// outOfRacyWindow waits until files written so far are older than the racy
// window, so that a scan trusts their validators next time.
func outOfRacyWindow() { time.Sleep(racyWindow + 50*time.Millisecond) }

type digests struct{ md5, sha1, sha256 string }

func digestsOf(b []byte) digests {
	m, s1, s256 := md5.Sum(b), sha1.Sum(b), sha256.Sum256(b)
	return digests{hex.EncodeToString(m[:]), hex.EncodeToString(s1[:]), hex.EncodeToString(s256[:])}
}

func sha256Of(b []byte) string { return digestsOf(b).sha256 }

// fileRow is a files row with its content's digests as hex, read straight
// from SQL so that the tests do not trust the repositories under test.
type fileRow struct {
	Path    string         `db:"path"`
	Name    string         `db:"name"`
	Op      string         `db:"operation"`
	Size    int64          `db:"size"`
	Scanned int64          `db:"scanned"`
	ScanID  sql.NullInt64  `db:"scan_id"`
	CtimeNS int64          `db:"ctime_ns"`
	MD5     sql.NullString `db:"md5"`
	SHA1    sql.NullString `db:"sha1"`
	SHA256  sql.NullString `db:"sha256"`
}

// dumpFiles returns every plain file row of the catalog by path.
func dumpFiles(tb testing.TB, c *Catalog) map[string]fileRow {
	tb.Helper()
	var rows []fileRow
	err := c.DB().WithRead(func(r *sqlx.DB) error {
		return r.Select(&rows, `SELECT path, name, operation, size, scanned, scan_id, ctime_ns,
			`+hexDigests(c)+` FROM files WHERE archive_path = ''`)
	})
	if err != nil {
		tb.Fatal(err)
	}
	out := make(map[string]fileRow, len(rows))
	for _, r := range rows {
		if _, dup := out[r.Path]; dup {
			tb.Fatalf("path %q has two rows", r.Path)
		}
		out[r.Path] = r
	}
	return out
}

// hexDigestColumns selects a files row's digests as lower-case hex, NULL
// for a file never hashed (hex(NULL) would be the empty string).
const hexDigestColumns = `CASE WHEN md5 IS NULL THEN NULL ELSE lower(hex(md5)) END AS md5,
	CASE WHEN sha1 IS NULL THEN NULL ELSE lower(hex(sha1)) END AS sha1,
	CASE WHEN sha256 IS NULL THEN NULL ELSE lower(hex(sha256)) END AS sha256`

// hexDigests is hexDigestColumns in c's engine's SQL.
func hexDigests(c *Catalog) string {
	if c.DB().Dialect().Shared {
		return `encode(md5, 'hex') AS md5, encode(sha1, 'hex') AS sha1, encode(sha256, 'hex') AS sha256`
	}
	return hexDigestColumns
}

func countRows(tb testing.TB, c *Catalog, query string, args ...any) int {
	tb.Helper()
	var n int
	if err := c.DB().WithRead(func(r *sqlx.DB) error { return r.Get(&n, r.Rebind(query), args...) }); err != nil {
		tb.Fatal(err)
	}
	return n
}

func getScan(tb testing.TB, c *Catalog, id int64) dto.Scan {
	tb.Helper()
	var sc dto.Scan
	err := c.UoW().Read(context.Background(), func(ctx context.Context, r *uow.Repos) error {
		var err error
		sc, err = r.Scans.Get(ctx, id)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return sc
}

// mustScan scans roots as machine "m1" and fails the test on an error.
func mustScan(tb testing.TB, c *Catalog, roots []string, opts ScanOptions) ScanReport {
	tb.Helper()
	if opts.Machine == "" {
		opts.Machine = "m1"
	}
	rep, err := c.Scan(context.Background(), roots, opts)
	if err != nil {
		tb.Fatalf("scan %v: %v (report %+v)", roots, err, rep)
	}
	return rep
}

func checkIntegrity(tb testing.TB, c *Catalog) {
	tb.Helper()
	if c.DB().Dialect().Shared {
		// A server's pages are the server's to check, and its foreign
		// keys are never off: there is nothing here to look at.
		return
	}
	problems, err := c.DB().Check(context.Background(), true)
	if err != nil || len(problems) > 0 {
		tb.Fatalf("integrity_check: %v %v", problems, err)
	}
	if n, err := c.DB().ForeignKeyViolations(context.Background()); err != nil || n > 0 {
		tb.Fatalf("foreign_key_check: %d violations, %v", n, err)
	}
}

func failurePaths(rep ScanReport) []string {
	var out []string
	for _, f := range rep.Failures {
		out = append(out, f.Path)
	}
	return out
}

func skipsByPath(rep ScanReport) map[string]string {
	out := map[string]string{}
	for _, s := range rep.Skips {
		out[s.Path] = s.Reason
	}
	return out
}

// assertHashed checks that path's row holds exactly the digests of content.
func assertHashed(tb testing.TB, rows map[string]fileRow, path string, content []byte) {
	tb.Helper()
	r, ok := rows[path]
	if !ok {
		tb.Fatalf("%s: no row", path)
	}
	want := digestsOf(content)
	got := digests{r.MD5.String, r.SHA1.String, r.SHA256.String}
	if got != want || r.Size != int64(len(content)) {
		tb.Fatalf("%s: got %+v size %d, want %+v size %d", path, got, r.Size, want, len(content))
	}
}

func TestScanHashesMatchStdlib(t *testing.T) {
	dir := t.TempDir()
	const kib = 1 << 10
	sizes := []int{0, 1, 128*kib - 1, 128 * kib, 128*kib + 1, 3<<20 + 7}
	content := map[string][]byte{}
	for i, n := range sizes {
		p := filepath.Join(dir, "f", strings.Repeat("x", i+1))
		content[p] = randomBytes(uint64(i), n)
		writeFile(t, p, content[p])
	}
	c := openTestCatalog(t)
	rep := mustScan(t, c, []string{dir}, ScanOptions{})
	var total int64
	for _, b := range content {
		total += int64(len(b))
	}
	if rep.Status != dto.ScanComplete || rep.Counts.Added != int64(len(sizes)) || rep.Counts.BytesHashed != total {
		t.Fatalf("report %+v, want complete, %d added, %d bytes", rep, len(sizes), total)
	}
	rows := dumpFiles(t, c)
	if len(rows) != len(sizes) {
		t.Fatalf("%d rows, want %d", len(rows), len(sizes))
	}
	for p, b := range content {
		assertHashed(t, rows, p, b)
	}
}

// TestScanRescan drives a second scan after one change to a tree of two files,
// keep.txt and f.txt, and checks what happened to f.txt, the counts, and that
// every file seen carries the second scan's id and time.
func TestScanRescan(t *testing.T) {
	orig := []byte("hello")
	cases := []struct {
		name string
		// change runs between the two scans; it may scan itself.
		change func(t *testing.T, c *Catalog, dir string)
		opts   ScanOptions
		wantOp dto.Operation // of f.txt after the second scan
		want   dto.ScanCounts
		// content of f.txt after the change; nil when it is gone
		content []byte
		// the files the second scan writes: the others keep the first
		// scan's id, since an unchanged file costs no write
		written []string
	}{
		{
			name:    "unchanged files are not read again",
			written: nil,
			change:  func(*testing.T, *Catalog, string) {},
			wantOp:  dto.OpAdd,
			want:    dto.ScanCounts{FilesSeen: 2, Unchanged: 2},
			content: orig,
		},
		{
			name:    "new file is ADD",
			written: []string{"new.txt"},
			change: func(t *testing.T, c *Catalog, dir string) {
				writeFile(t, filepath.Join(dir, "new.txt"), []byte("brand new"))
			},
			wantOp:  dto.OpAdd,
			want:    dto.ScanCounts{FilesSeen: 3, Added: 1, Unchanged: 2, BytesHashed: 9},
			content: orig,
		},
		{
			name:    "content change is MOD",
			written: []string{"f.txt"},
			change: func(t *testing.T, c *Catalog, dir string) {
				writeFile(t, filepath.Join(dir, "f.txt"), []byte("hello, world"))
			},
			wantOp:  dto.OpMod,
			want:    dto.ScanCounts{FilesSeen: 2, Modified: 1, Unchanged: 1, BytesHashed: 12},
			content: []byte("hello, world"),
		},
		{
			name:    "same size rewrite with mtime set back is MOD",
			written: []string{"f.txt"},
			change: func(t *testing.T, c *Catalog, dir string) {
				p := filepath.Join(dir, "f.txt")
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				writeFile(t, p, []byte("HELLO"))
				if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
					t.Fatal(err)
				}
				if fi2, _ := os.Stat(p); !fi2.ModTime().Equal(fi.ModTime()) || fi2.Size() != fi.Size() {
					t.Fatal("size or mtime differ: the case tests nothing")
				}
			},
			wantOp:  dto.OpMod,
			want:    dto.ScanCounts{FilesSeen: 2, Modified: 1, Unchanged: 1, BytesHashed: 5},
			content: []byte("HELLO"),
		},
		{
			name:    "metadata change alone is re-read but stays unchanged",
			written: []string{"f.txt"},
			change: func(t *testing.T, c *Catalog, dir string) {
				if err := os.Chmod(filepath.Join(dir, "f.txt"), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			wantOp:  dto.OpAdd,
			want:    dto.ScanCounts{FilesSeen: 2, Unchanged: 2, BytesHashed: 5},
			content: orig,
		},
		{
			name:    "removed file is DEL and its row kept",
			written: []string{"f.txt"},
			change: func(t *testing.T, c *Catalog, dir string) {
				if err := os.Remove(filepath.Join(dir, "f.txt")); err != nil {
					t.Fatal(err)
				}
			},
			wantOp: dto.OpDel,
			want:   dto.ScanCounts{FilesSeen: 1, Unchanged: 1, Deleted: 1},
		},
		{
			name:    "file back after DEL is ADD",
			written: []string{"f.txt"},
			change: func(t *testing.T, c *Catalog, dir string) {
				p := filepath.Join(dir, "f.txt")
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
				rep := mustScan(t, c, []string{dir}, ScanOptions{})
				if rep.Counts.Deleted != 1 || dumpFiles(t, c)[p].Op != string(dto.OpDel) {
					t.Fatalf("removal not recorded: %+v", rep.Counts)
				}
				writeFile(t, p, orig)
			},
			wantOp:  dto.OpAdd,
			want:    dto.ScanCounts{FilesSeen: 2, Added: 1, Unchanged: 1, BytesHashed: 5},
			content: orig,
		},
		{
			name:    "rehash reads everything",
			written: []string{"f.txt", "keep.txt"},
			change:  func(*testing.T, *Catalog, string) {},
			opts:    ScanOptions{Rehash: true},
			wantOp:  dto.OpAdd,
			want:    dto.ScanCounts{FilesSeen: 2, Unchanged: 2, BytesHashed: 9},
			content: orig,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // the subtests mostly wait out the racy window
			dir := t.TempDir()
			f := filepath.Join(dir, "f.txt")
			writeFile(t, filepath.Join(dir, "keep.txt"), []byte("keep"))
			writeFile(t, f, orig)
			outOfRacyWindow()
			c := openTestCatalog(t)
			first := mustScan(t, c, []string{dir}, ScanOptions{})
			if got, want := first.Counts, (dto.ScanCounts{FilesSeen: 2, Added: 2, BytesHashed: 9}); got != want {
				t.Fatalf("first scan: got %+v, want %+v", got, want)
			}
			tc.change(t, c, dir)
			rep := mustScan(t, c, []string{dir}, tc.opts)
			if rep.Counts != tc.want || rep.Status != dto.ScanComplete {
				t.Errorf("second scan: got %s %+v, want complete %+v", rep.Status, rep.Counts, tc.want)
			}
			if sc := getScan(t, c, rep.ID); sc.ScanCounts != rep.Counts || sc.Status != rep.Status {
				t.Errorf("scans row: got %s %+v, want %s %+v", sc.Status, sc.ScanCounts, rep.Status, rep.Counts)
			}
			rows := dumpFiles(t, c)
			if got := dto.Operation(rows[f].Op); got != tc.wantOp {
				t.Errorf("f.txt: got %s, want %s", got, tc.wantOp)
			}
			if tc.content != nil {
				assertHashed(t, rows, f, tc.content)
			} else if !rows[f].SHA256.Valid {
				t.Errorf("f.txt: a DEL row keeps its last content, got none")
			}
			assertHashed(t, rows, filepath.Join(dir, "keep.txt"), []byte("keep"))
			// A row names the scan that last wrote it.
			for p, r := range rows {
				want, wantStarted := first.ID, first.Started.UnixNano()
				if slices.Contains(tc.written, filepath.Base(p)) {
					want, wantStarted = rep.ID, rep.Started.UnixNano()
				}
				if r.Scanned != wantStarted || r.ScanID.Int64 != want {
					t.Errorf("%s: scanned %d by scan %d, want %d by scan %d", p, r.Scanned, r.ScanID.Int64, wantStarted, want)
				}
			}
		})
	}
}

// TestScanRacilyClean: a file that changes within the racy window of being
// hashed does not have its validators trusted, so the next scan reads it again.
func TestScanRacilyClean(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "racy.txt")
	writeFile(t, p, []byte("racy"))
	writeFile(t, filepath.Join(dir, "calm.txt"), []byte("calm"))
	outOfRacyWindow()
	c := openTestCatalog(t)
	// Rewriting the file just before it is read puts its ctime within the
	// window, whatever the machine's speed.
	testHookBeforeHash = func(path string) {
		if path == p {
			writeFile(t, p, []byte("racy"))
		}
	}
	mustScan(t, c, []string{dir}, ScanOptions{})
	testHookBeforeHash = nil
	rows := dumpFiles(t, c)
	if rows[p].CtimeNS != 0 || rows[filepath.Join(dir, "calm.txt")].CtimeNS == 0 {
		t.Fatalf("ctime_ns: racy %d (want 0), calm %d (want real)", rows[p].CtimeNS, rows[filepath.Join(dir, "calm.txt")].CtimeNS)
	}
	outOfRacyWindow()
	rep := mustScan(t, c, []string{dir}, ScanOptions{})
	if rep.Counts.BytesHashed != 4 || rep.Counts.Unchanged != 2 {
		t.Fatalf("second scan %+v: want only racy.txt read again (4 bytes)", rep.Counts)
	}
	rep = mustScan(t, c, []string{dir}, ScanOptions{})
	if rep.Counts.BytesHashed != 0 {
		t.Fatalf("third scan read %d bytes, want 0", rep.Counts.BytesHashed)
	}
}

func TestScanSharedContent(t *testing.T) {
	dir := t.TempDir()
	same := []byte("the same content")
	writeFile(t, filepath.Join(dir, "a.txt"), same)
	writeFile(t, filepath.Join(dir, "sub", "b.txt"), same)
	writeFile(t, filepath.Join(dir, "c.txt"), []byte("other"))
	c := openTestCatalog(t)
	mustScan(t, c, []string{dir}, ScanOptions{})
	rows := dumpFiles(t, c)
	a, b := rows[filepath.Join(dir, "a.txt")], rows[filepath.Join(dir, "sub", "b.txt")]
	if !a.SHA256.Valid || a.MD5 != b.MD5 || a.SHA1 != b.SHA1 || a.SHA256 != b.SHA256 {
		t.Fatalf("identical files have digests %v %v %v and %v %v %v", a.MD5, a.SHA1, a.SHA256, b.MD5, b.SHA1, b.SHA256)
	}
	assertHashed(t, rows, filepath.Join(dir, "a.txt"), same)
	if n := countRows(t, c, "SELECT COUNT(DISTINCT sha256) FROM files"); n != 2 {
		t.Fatalf("%d distinct contents, want 2", n)
	}
	// A second catalog scan of the same content in another place reuses it too.
	writeFile(t, filepath.Join(dir, "later", "d.txt"), same)
	mustScan(t, c, []string{dir}, ScanOptions{})
	if n := countRows(t, c, "SELECT COUNT(DISTINCT sha256) FROM files"); n != 2 {
		t.Fatalf("%d distinct contents after rescan, want 2", n)
	}
	assertHashed(t, dumpFiles(t, c), filepath.Join(dir, "later", "d.txt"), same)
}

// TestScanKeepsWhatItCannotSee: files below an excluded directory, and
// excluded files, are not counted as deleted; their rows become DEL as
// excluded ones (see TestScanExcludeMarksRowsGone).
func TestScanKeepsWhatItCannotSee(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "sub", "deep", "in.txt")
	log := filepath.Join(dir, "app.log")
	writeFile(t, in, []byte("in"))
	writeFile(t, log, []byte("log"))
	writeFile(t, filepath.Join(dir, "top.txt"), []byte("top"))
	c := openTestCatalog(t)
	mustScan(t, c, []string{dir}, ScanOptions{})
	rep := mustScan(t, c, []string{dir}, ScanOptions{Exclude: []string{"sub", "*.log"}})
	if rep.Counts.Deleted != 0 || rep.ExcludedGone != 2 {
		t.Fatalf("%d deleted, %d excluded rows marked gone; want 0 and 2", rep.Counts.Deleted, rep.ExcludedGone)
	}
	skips := skipsByPath(rep)
	if skips[filepath.Join(dir, "sub")] != walk.ReasonExcluded || skips[log] != walk.ReasonExcluded {
		t.Fatalf("skips %v: want sub and app.log excluded", skips)
	}
	rows := dumpFiles(t, c)
	for _, p := range []string{in, log} {
		if rows[p].Op != string(dto.OpDel) {
			t.Errorf("%s: %s, want DEL", p, rows[p].Op)
		}
	}
}

func TestScanVanishedBeforeRead(t *testing.T) {
	dir := t.TempDir()
	gone := filepath.Join(dir, "gone.txt")
	writeFile(t, gone, []byte("soon gone"))
	writeFile(t, filepath.Join(dir, "stays.txt"), []byte("stays"))
	c := openTestCatalog(t)
	testHookBeforeHash = func(path string) {
		if path == gone {
			os.Remove(gone)
		}
	}
	t.Cleanup(func() { testHookBeforeHash = nil })
	rep := mustScan(t, c, []string{dir}, ScanOptions{})
	if rep.Status != dto.ScanPartial || rep.Counts.Failed != 1 || rep.Counts.Added != 1 {
		t.Fatalf("report %s %+v, want partial with 1 failed, 1 added", rep.Status, rep.Counts)
	}
	if f := rep.Failures[0]; f.Path != gone || !strings.Contains(f.Err.Error(), "vanished") {
		t.Fatalf("failure %q: %v, want %s vanished", f.Path, f.Err, gone)
	}
	if _, ok := dumpFiles(t, c)[gone]; ok {
		t.Fatal("the vanished file has a row")
	}
}

// changingReader changes the file being hashed right after its first read.
type changingReader struct {
	r      io.Reader
	change func()
	done   bool
}

func (c *changingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if !c.done {
		c.done = true
		// Past any coarse timestamp tick, so that even a file system without
		// fine-grained ctime shows the change.
		time.Sleep(20 * time.Millisecond)
		c.change()
	}
	return n, err
}

func TestScanFileChangingWhileRead(t *testing.T) {
	size := 1 << 20 // several reads of digest.BufSize
	appendTo := func(t *testing.T, p string) func() {
		return func() {
			f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Error(err)
				return
			}
			f.Write([]byte("more"))
			f.Close()
		}
	}
	overwriteHead := func(t *testing.T, p string) func() {
		return func() {
			f, err := os.OpenFile(p, os.O_WRONLY, 0)
			if err != nil {
				t.Error(err)
				return
			}
			f.WriteAt([]byte("NEW HEAD"), 0) // bytes already read: a mixed hash if missed
			f.Close()
		}
	}
	cases := []struct {
		name     string
		change   func(t *testing.T, p string) func()
		attempts int // attempts during which the file changes
		stored   bool
	}{
		{"grows during the first read, retried", appendTo, 1, true},
		{"rewritten in place during the first read, retried", overwriteHead, 1, true},
		{"keeps growing, reported", appendTo, 2, false},
		{"keeps being rewritten, reported", overwriteHead, 2, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "moving.bin")
			writeFile(t, p, randomBytes(7, size))
			c := openTestCatalog(t)
			attempt := 0
			testHookReader = func(path string, r io.Reader) io.Reader {
				if path != p {
					return r
				}
				attempt++
				if attempt > tc.attempts {
					return r
				}
				return &changingReader{r: r, change: tc.change(t, p)}
			}
			t.Cleanup(func() { testHookReader = nil })
			rep := mustScan(t, c, []string{dir}, ScanOptions{Workers: 1})
			final, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			rows := dumpFiles(t, c)
			if tc.stored {
				if rep.Status != dto.ScanComplete {
					t.Fatalf("status %s, failures %v: want complete after one retry", rep.Status, rep.Failures)
				}
				assertHashed(t, rows, p, final)
				if attempt != 2 {
					t.Fatalf("%d attempts, want 2", attempt)
				}
				return
			}
			if rep.Status != dto.ScanPartial || len(rep.Failures) != 1 || !errors.Is(rep.Failures[0].Err, ErrChanged) {
				t.Fatalf("status %s, failures %v: want partial with %v", rep.Status, rep.Failures, ErrChanged)
			}
			if r, ok := rows[p]; ok && r.SHA256.String != sha256Of(final) {
				t.Fatalf("stored %s, which is not the final content", r.SHA256.String)
			}
		})
	}
}

// TestScanChunkFallback: a row the database refuses costs one file; the rest
// of its chunk is written file by file.
func TestScanChunkFallback(t *testing.T) {
	dir := t.TempDir()
	const n = 300
	for i := range n {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("d%d", i%5), fmt.Sprintf("f%03d.txt", i)), fmt.Appendf(nil, "file %d", i))
	}
	bad := filepath.Join(dir, "d3", "bad.txt")
	writeFile(t, bad, []byte("refused"))
	c := openTestCatalog(t)
	trigger := `CREATE TRIGGER boom BEFORE INSERT ON files WHEN NEW.name = 'bad.txt'
			BEGIN SELECT RAISE(ABORT, 'injected'); END`
	if c.DB().Dialect().Shared {
		trigger = `CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN IF NEW.name = 'bad.txt'::bytea THEN RAISE EXCEPTION 'injected' USING ERRCODE = 'check_violation'; END IF; RETURN NEW; END $$;
			CREATE TRIGGER boom BEFORE INSERT ON files FOR EACH ROW EXECUTE FUNCTION boom()`
	}
	err := c.DB().WithWrite(func(w *sqlx.DB) error {
		_, err := w.Exec(trigger)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	rep := mustScan(t, c, []string{dir}, ScanOptions{})
	if rep.Status != dto.ScanPartial || rep.Counts.Added != n || rep.Counts.Failed != 1 {
		t.Fatalf("report %s %+v, want partial, %d added, 1 failed", rep.Status, rep.Counts, n)
	}
	if f := rep.Failures[0]; f.Path != bad || !strings.Contains(f.Err.Error(), "injected") {
		t.Fatalf("failure %s: %v, want %s with the trigger's message", f.Path, f.Err, bad)
	}
	rows := dumpFiles(t, c)
	if len(rows) != n {
		t.Fatalf("%d rows, want %d", len(rows), n)
	}
	if _, ok := rows[bad]; ok {
		t.Fatal("bad.txt has a row")
	}
	m := getScan(t, c, rep.ID).TxMetrics
	if m == nil {
		t.Fatal("no tx metrics on the scans row")
	}
	chunk, file := m.Ops["scan.chunk"], m.Ops["scan.file"]
	// Exactly one chunk failed; its files, bad.txt among them, were retried
	// one by one, and only bad.txt failed again.
	if chunk.Failures["constraint"] != 1 || file.Count < 2 || file.Count > chunkFiles || file.Failures["constraint"] != 1 {
		t.Fatalf("metrics %+v: want one failed chunk retried as up to %d scan.file ops, one failing", m.Ops, chunkFiles)
	}
}

// TestScanMachinesAreSeparate: a scan sees and changes only its own
// machine's rows, even over the same paths.
func TestScanMachinesAreSeparate(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.txt"), filepath.Join(dir, "b.txt")
	writeFile(t, a, []byte("a"))
	writeFile(t, b, []byte("b"))
	c := openTestCatalog(t)
	first := mustScan(t, c, []string{dir}, ScanOptions{Machine: "m1"})
	if err := os.Remove(b); err != nil {
		t.Fatal(err)
	}
	rep := mustScan(t, c, []string{dir}, ScanOptions{Machine: "m2"})
	if rep.Counts.Added != 1 || rep.Counts.Deleted != 0 {
		t.Fatalf("m2: %+v, want a.txt added and nothing of m1's deleted", rep.Counts)
	}
	type key struct {
		Machine string `db:"machine"`
		Path    string `db:"path"`
		Op      string `db:"op"`
	}
	var rows []key
	if err := c.DB().WithRead(func(r *sqlx.DB) error {
		return r.Select(&rows, "SELECT machine, path, operation AS op FROM files ORDER BY machine, path")
	}); err != nil {
		t.Fatal(err)
	}
	want := []key{{"m1", a, "ADD"}, {"m1", b, "ADD"}, {"m2", a, "ADD"}}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Fatalf("rows %v, want %v", rows, want)
	}
	if n := countRows(t, c, "SELECT COUNT(*) FROM files WHERE machine = 'm1' AND scan_id = ?", first.ID); n != 2 {
		t.Fatalf("%d of m1's rows still carry its scan, want 2", n)
	}
}

// TestScanFileAddedByAnotherScan: a file the catalog had no row of when the
// scan loaded it, but that another scan stored meanwhile, is still stored
// (the plain insert fails on the unique key, the per-file retry upserts),
// with nothing reported failed.
func TestScanFileAddedByAnotherScan(t *testing.T) {
	dir := t.TempDir()
	for i := range 50 {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("f%02d.txt", i)), fmt.Appendf(nil, "file %d", i))
	}
	raced := filepath.Join(dir, "f07.txt")
	c := openTestCatalog(t)
	testHookBeforeHash = func(path string) {
		if path != raced {
			return
		}
		err := c.UoW().Do(context.Background(), "other scan", func(ctx context.Context, r *uow.Repos) error {
			_, err := r.Files.InsertMany(ctx, []dto.FileWithHash{{FileMeta: dto.FileMeta{Machine: "m", Path: raced,
				Name: "f07.txt", Size: 1, Modified: time.Unix(1, 0), Scanned: time.Unix(1, 0), Operation: dto.OpAdd}}})
			return err
		})
		if err != nil {
			t.Error(err)
		}
	}
	defer func() { testHookBeforeHash = nil }()
	rep := mustScan(t, c, []string{dir}, ScanOptions{Machine: "m"})
	if rep.Status != dto.ScanComplete || rep.Counts.Added != 50 || rep.Counts.Failed != 0 {
		t.Fatalf("report %s %+v; want complete, 50 added", rep.Status, rep.Counts)
	}
	rows := dumpFiles(t, c)
	if len(rows) != 50 {
		t.Fatalf("%d rows, want 50", len(rows))
	}
	assertHashed(t, rows, raced, []byte("file 7"))
	if m := getScan(t, c, rep.ID).TxMetrics; m.Ops["scan.chunk"].Failures["constraint"] != 1 {
		t.Errorf("metrics %+v; want the chunk's insert to fail on the unique key once", m.Ops)
	}
}
