package repo_test

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dbtest"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/repo"
)

// repos are the two repositories on one executor.
type repos struct {
	files *repo.Files
	scans *repo.Scans
	x     repo.Executor
}

// onPool runs fn with repositories working directly on the write pool, the
// executor the unit of work's tests do not cover.
func onPool(t *testing.T, d *db.DB, fn func(ctx context.Context, r repos) error) {
	t.Helper()
	err := d.WithWrite(func(w *sqlx.DB) error {
		return fn(t.Context(), repos{repo.NewFiles(w), repo.NewScans(w), w})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func count(t *testing.T, d *db.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := d.WithRead(func(r *sqlx.DB) error { return r.Get(&n, r.Rebind(query), args...) }); err != nil {
		t.Fatal(err)
	}
	return n
}

// unhex returns the bytes of a hex digest, as the catalog stores them.
func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// content returns the real digests of a string.
func content(s string) dto.FileHash {
	m, s1, s2 := md5.Sum([]byte(s)), sha1.Sum([]byte(s)), sha256.Sum256([]byte(s))
	return dto.FileHash{Size: int64(len(s)), MD5: hex.EncodeToString(m[:]), SHA1: hex.EncodeToString(s1[:]), SHA256: hex.EncodeToString(s2[:])}
}

func contents(from, to int) []dto.FileHash {
	var hs []dto.FileHash
	for i := from; i < to; i++ {
		hs = append(hs, content(fmt.Sprintf("content %d", i)))
	}
	return hs
}

// hashedFile returns a plain file of machine "m" at path with content h.
func hashedFile(path string, h dto.FileHash) dto.FileWithHash {
	return dto.FileWithHash{Hash: h, FileMeta: dto.FileMeta{Machine: "m", Path: path, Name: path[1:], Size: h.Size,
		Modified: t0, Scanned: t0, Operation: dto.OpAdd}}
}

// storedDigests returns, by path, the digests the files table holds, read
// straight from SQL as hex, with their storage types.
func storedDigests(t *testing.T, d *db.DB) map[string][4]string {
	t.Helper()
	var rows []struct {
		Path   string `db:"path"`
		MD5    string `db:"md5"`
		SHA1   string `db:"sha1"`
		SHA256 string `db:"sha256"`
		Types  string `db:"types"`
	}
	err := d.WithRead(func(r *sqlx.DB) error {
		if d.Dialect().Shared {
			// Every value of a bytea column is bytes: what SQLite calls
			// a blob, unless NULL.
			return r.Select(&rows, `SELECT path, COALESCE(encode(md5, 'hex'), '') AS md5, COALESCE(encode(sha1, 'hex'), '') AS sha1,
				COALESCE(encode(sha256, 'hex'), '') AS sha256,
				CASE WHEN md5 IS NULL THEN 'null' ELSE 'blob' END || ' ' || CASE WHEN sha1 IS NULL THEN 'null' ELSE 'blob' END
				|| ' ' || CASE WHEN sha256 IS NULL THEN 'null' ELSE 'blob' END AS types FROM files`)
		}
		return r.Select(&rows, `SELECT path, lower(hex(md5)) AS md5, lower(hex(sha1)) AS sha1, lower(hex(sha256)) AS sha256,
			typeof(md5) || ' ' || typeof(sha1) || ' ' || typeof(sha256) AS types FROM files`)
	})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][4]string{}
	for _, r := range rows {
		out[r.Path] = [4]string{r.MD5, r.SHA1, r.SHA256, r.Types}
	}
	return out
}

func countContents(t *testing.T, d *db.DB) int64 {
	t.Helper()
	var n int64
	onPool(t, d, func(ctx context.Context, r repos) error {
		var err error
		c, err := r.files.Counts(ctx)
		n = c.Hashes
		return err
	})
	return n
}

// TestUpsertManyStoresDigests: each file's content is stored with it, as raw
// bytes, across chunks and with contents shared by several files; a file
// without a SHA256 has NULL digests; Counts().Hashes counts distinct contents.
func TestUpsertManyStoresDigests(t *testing.T) {
	d := dbtest.MustOpen(t)
	distinct := contents(0, 250)
	// 360 files, two chunks, with contents repeated inside a chunk and across chunks.
	hs := slices.Clone(distinct)
	for i := 99; i >= 0; i-- {
		hs = append(hs, distinct[i])
	}
	hs = append(hs, distinct[120:130]...)
	var in []dto.FileWithHash
	for i, h := range hs {
		in = append(in, hashedFile(fmt.Sprintf("/f%03d", i), h))
	}
	unhashed := hashedFile("/unhashed", dto.FileHash{})
	onPool(t, d, func(ctx context.Context, r repos) error { return r.files.UpsertMany(ctx, append(in, unhashed)) })

	got := storedDigests(t, d)
	if len(got) != len(in)+1 {
		t.Fatalf("%d rows; want %d", len(got), len(in)+1)
	}
	for _, f := range in {
		want := [4]string{f.Hash.MD5, f.Hash.SHA1, f.Hash.SHA256, "blob blob blob"}
		if got[f.Path] != want {
			t.Fatalf("%s stores %q; want %q", f.Path, got[f.Path], want)
		}
	}
	if want := [4]string{"", "", "", "null null null"}; got["/unhashed"] != want {
		t.Errorf("an unhashed file stores %q; want NULL digests", got["/unhashed"])
	}
	if n := count(t, d, "SELECT COUNT(DISTINCT sha256) FROM files"); n != len(distinct) {
		t.Errorf("%d distinct sha256; want %d", n, len(distinct))
	}
	if n := countContents(t, d); n != int64(len(distinct)) {
		t.Errorf("Counts().Hashes = %d; want %d (the unhashed file is no content)", n, len(distinct))
	}

	// New files, some of old contents, some of new ones; and an old file
	// rewritten with a new content.
	var more []dto.FileWithHash
	for i, h := range append(contents(240, 260), distinct[0]) {
		more = append(more, hashedFile(fmt.Sprintf("/g%03d", i), h))
	}
	changed := hashedFile("/f000", content("changed"))
	onPool(t, d, func(ctx context.Context, r repos) error { return r.files.UpsertMany(ctx, append(more, changed)) })
	got = storedDigests(t, d)
	for _, f := range append(more, changed) {
		if want := [4]string{f.Hash.MD5, f.Hash.SHA1, f.Hash.SHA256, "blob blob blob"}; got[f.Path] != want {
			t.Errorf("%s stores %q; want %q", f.Path, got[f.Path], want)
		}
	}
	// 260 contents and "changed"; distinct[0] is still another file's.
	if n := countContents(t, d); n != 261 {
		t.Errorf("Counts().Hashes = %d; want 261", n)
	}
}

// TestUpsertManyRefusesBadDigests: a digest that is not hex, or not of its
// algorithm's length, is refused, not stored.
func TestUpsertManyRefusesBadDigests(t *testing.T) {
	good := content("good")
	tests := map[string]func(h *dto.FileHash){
		"md5 too short":    func(h *dto.FileHash) { h.MD5 = h.MD5[:30] },
		"md5 missing":      func(h *dto.FileHash) { h.MD5 = "" },
		"sha1 too long":    func(h *dto.FileHash) { h.SHA1 += "00" },
		"sha1 not hex":     func(h *dto.FileHash) { h.SHA1 = "zz" + h.SHA1[2:] },
		"sha256 odd":       func(h *dto.FileHash) { h.SHA256 = h.SHA256[:63] },
		"sha256 of sha1":   func(h *dto.FileHash) { h.SHA256 = h.SHA1 },
		"sha256 with text": func(h *dto.FileHash) { h.SHA256 = "h" + h.SHA256[1:] },
	}
	for name, spoil := range tests {
		t.Run(name, func(t *testing.T) {
			d := dbtest.MustOpen(t)
			h := good
			spoil(&h)
			var err error
			onPool(t, d, func(ctx context.Context, r repos) error {
				err = r.files.UpsertMany(ctx, []dto.FileWithHash{hashedFile("/bad", h)})
				return nil
			})
			if err == nil {
				t.Errorf("UpsertMany(%+v) = nil; want an error", h)
			}
			if n := count(t, d, "SELECT COUNT(*) FROM files"); n != 0 {
				t.Errorf("%d rows after the refused upsert; want 0", n)
			}
		})
	}
}

func TestContentByDigest(t *testing.T) {
	d := dbtest.MustOpen(t)
	h := content("needle")
	var fs []dto.FileWithHash
	for i, c := range append(contents(0, 5), h) {
		fs = append(fs, hashedFile(fmt.Sprintf("/f%d", i), c))
	}
	fs = append(fs, hashedFile("/unhashed", dto.FileHash{}))
	onPool(t, d, func(ctx context.Context, r repos) error { return r.files.UpsertMany(ctx, fs) })
	tests := []struct {
		hex       string
		wantFound bool
		wantErr   bool
	}{
		{h.MD5, true, false},
		{h.SHA1, true, false},
		{h.SHA256, true, false},
		{content("absent").SHA256, false, false},
		{content("absent").MD5, false, false},
		{"ABCDEF0123456789ABCDEF0123456789", false, true}, // upper case
		{"abc", false, true},                              // no digest has 3 digits
		{"zz" + h.MD5[2:], false, true},                   // not hex
		{"", false, true},                                 // the unhashed file's "digest"
	}
	for _, tt := range tests {
		onPool(t, d, func(ctx context.Context, r repos) error {
			got, found, err := r.files.ContentByDigest(ctx, tt.hex)
			if (err != nil) != tt.wantErr || found != tt.wantFound {
				t.Errorf("ContentByDigest(%q) = %v, %v; want found %v, error %v", tt.hex, found, err, tt.wantFound, tt.wantErr)
			}
			if tt.wantFound && got != h {
				t.Errorf("ContentByDigest(%q) = %+v; want %+v", tt.hex, got, h)
			}
			return nil
		})
	}
}

var t0 = time.Unix(1_700_000_000, 123_456_789)

// file returns a plain file of machine at path with every field set.
func file(machine, path string, i int) dto.FileMeta {
	return dto.FileMeta{
		Machine: machine, Path: path, Name: "f" + fmt.Sprint(i), Size: int64(i),
		Created:  t0.Add(time.Duration(i)),
		Modified: t0.Add(time.Duration(i) * time.Second), Scanned: t0.Add(time.Hour),
		Operation: dto.OpAdd,
		Validators: dto.Validators{Size: int64(i), MtimeNS: t0.UnixNano() + int64(i), CtimeNS: t0.UnixNano() - int64(i),
			Inode: 1<<63 + uint64(i), Device: 1<<40 + 7, Nlink: 1},
	}
}

// norm clears the id and puts times in UTC, for comparing a row with its input.
func norm(m dto.FileMeta) dto.FileMeta {
	m.ID = 0
	m.Created, m.Modified, m.Scanned = utc(m.Created), utc(m.Modified), utc(m.Scanned)
	return m
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// upsert stores fs unhashed.
func upsert(t *testing.T, d *db.DB, fs []dto.FileMeta) {
	t.Helper()
	ws := make([]dto.FileWithHash, len(fs))
	for i, f := range fs {
		ws[i] = dto.FileWithHash{FileMeta: f}
	}
	onPool(t, d, func(ctx context.Context, r repos) error { return r.files.UpsertMany(ctx, ws) })
}

func getByPaths(t *testing.T, d *db.DB, machine string, paths []string) map[string]dto.FileMeta {
	t.Helper()
	var got map[string]dto.FileMeta
	onPool(t, d, func(ctx context.Context, r repos) error {
		var err error
		got, err = r.files.GetByPaths(ctx, machine, paths)
		return err
	})
	return got
}

func TestUpsertManyInsertsThenUpdates(t *testing.T) {
	d := dbtest.MustOpen(t)
	const n = 450 // three chunks
	var in []dto.FileMeta
	var paths []string
	for i := range n {
		p := fmt.Sprintf("/data/f%04d", i)
		in = append(in, file("m1", p, i))
		paths = append(paths, p)
	}
	in[7].Created = time.Time{} // no birth time: stored as NULL, read back as zero
	upsert(t, d, in)
	// The same paths on another machine are other files.
	upsert(t, d, []dto.FileMeta{file("m2", paths[0], 0), file("m2", paths[n-1], 1)})

	if got := count(t, d, "SELECT COUNT(*) FROM files WHERE machine = 'm1'"); got != n {
		t.Fatalf("%d rows; want %d", got, n)
	}
	// 450 wanted paths and 3 absent ones, across chunks.
	got := getByPaths(t, d, "m1", append(slices.Clone(paths), "/data/none", "/data", "/data/f0000/x"))
	if len(got) != n {
		t.Fatalf("GetByPaths returned %d files; want %d", len(got), n)
	}
	ids := map[string]int64{}
	for _, w := range in {
		g := got[w.Path]
		if !reflect.DeepEqual(norm(g), norm(w)) {
			t.Fatalf("row %s =\n%+v; want\n%+v", w.Path, norm(g), norm(w))
		}
		ids[w.Path] = g.ID
	}
	if n := count(t, d, "SELECT COUNT(*) FROM files WHERE md5 IS NULL AND sha1 IS NULL AND sha256 IS NULL AND scan_id IS NULL"); n != len(in)+2 {
		t.Errorf("%d rows with NULL digests and scan_id; want every row (0 is stored as NULL)", n)
	}

	// Second pass: every file changed, and now hashed.
	x := content("x")
	for i := range in {
		// FileMeta.Size and Validators.Size are one column.
		in[i].Size += 1000
		in[i].Validators.Size = in[i].Size
		in[i].Operation = dto.OpMod
		in[i].Scanned = in[i].Scanned.Add(time.Hour)
		in[i].MtimeNS++
		in[i].IsArchived = i%2 == 0
	}
	hashed := make([]dto.FileWithHash, len(in))
	for i, f := range in {
		hashed[i] = dto.FileWithHash{FileMeta: f, Hash: x}
	}
	onPool(t, d, func(ctx context.Context, r repos) error { return r.files.UpsertMany(ctx, hashed) })
	if got := count(t, d, "SELECT COUNT(*) FROM files WHERE md5 = ? AND sha1 = ? AND sha256 = ?",
		unhex(x.MD5), unhex(x.SHA1), unhex(x.SHA256)); got != n {
		t.Errorf("%d rows with the new content's digests; want %d", got, n)
	}
	if got := count(t, d, "SELECT COUNT(*) FROM files"); got != n+2 {
		t.Fatalf("%d rows after the update; want %d", got, n+2)
	}
	got = getByPaths(t, d, "m1", paths)
	for _, w := range in {
		g := got[w.Path]
		if g.ID != ids[w.Path] {
			t.Fatalf("%s: id %d after update; want %d kept", w.Path, g.ID, ids[w.Path])
		}
		if !reflect.DeepEqual(norm(g), norm(w)) {
			t.Fatalf("row %s after update =\n%+v; want\n%+v", w.Path, norm(g), norm(w))
		}
	}
	if got := getByPaths(t, d, "m2", paths); len(got) != 2 || got[paths[0]].Size != 0 {
		t.Errorf("m2's files = %v; want its 2 untouched rows", got)
	}
	if got := getByPaths(t, d, "m1", nil); len(got) != 0 {
		t.Errorf("GetByPaths(no paths) = %v; want none", got)
	}
}

func TestUniqueKeyWithArchivePath(t *testing.T) {
	d := dbtest.MustOpen(t)
	entry := func(machine, inner string, size int64) dto.FileMeta {
		f := file(machine, "/a.zip", 1)
		f.ArchivePath, f.Size, f.IsArchived = inner, size, inner != ""
		return f
	}
	upsert(t, d, []dto.FileMeta{
		entry("m1", "", 10),
		entry("m1", "x/1.txt", 1),
		entry("m1", "x/2.txt", 2),
		entry("m2", "", 20),
	})
	upsert(t, d, []dto.FileMeta{entry("m1", "x/1.txt", 100)})

	type key struct {
		Machine     string `db:"machine"`
		ArchivePath string `db:"archive_path"`
		Size        int64  `db:"size"`
	}
	var got []key
	if err := d.WithRead(func(r *sqlx.DB) error {
		return r.Select(&got, "SELECT machine, archive_path, size FROM files ORDER BY machine, archive_path")
	}); err != nil {
		t.Fatal(err)
	}
	want := []key{{"m1", "", 10}, {"m1", "x/1.txt", 100}, {"m1", "x/2.txt", 2}, {"m2", "", 20}}
	if !slices.Equal(got, want) {
		t.Errorf("rows = %v; want %v", got, want)
	}
	plain := getByPaths(t, d, "m1", []string{"/a.zip"})
	if len(plain) != 1 || plain["/a.zip"].ArchivePath != "" || plain["/a.zip"].Size != 10 {
		t.Errorf("GetByPaths = %+v; want only the plain file", plain)
	}
}

func TestEachUnder(t *testing.T) {
	d := dbtest.MustOpen(t)
	paths := []string{
		"/a", "/a/b", "/a/b/x", "/a/b/x/y", "/a/b/\xff", "/a/bc", "/a/b.txt", "/a/b0", "/a/b\xff",
		"/ab", "/b",
	}
	var fs []dto.FileMeta
	for i, p := range paths {
		fs = append(fs, file("m1", p, i))
	}
	inner := file("m1", "/a/b/z.zip", 99)
	inner.ArchivePath = "in/side.txt"
	fs = append(fs, inner, file("m2", "/a/b/x", 0))
	upsert(t, d, fs)

	tests := []struct {
		root string
		want []string // paths, an archive entry as path!inner
	}{
		{"/a/b", []string{"/a/b", "/a/b/x", "/a/b/x/y", "/a/b/z.zip!in/side.txt", "/a/b/\xff"}},
		{"/a/b/x", []string{"/a/b/x", "/a/b/x/y"}},
		{"/a/bc", []string{"/a/bc"}},
		{"/a/b/z.zip", []string{"/a/b/z.zip!in/side.txt"}},
		{"/a/b/x/y/z", nil},
		{"/", append(slices.Clone(paths), "/a/b/z.zip!in/side.txt")},
	}
	for _, tt := range tests {
		var got []string
		onPool(t, d, func(ctx context.Context, r repos) error {
			return r.files.EachUnder(ctx, "m1", tt.root, func(m dto.FileMeta) error {
				if m.Machine != "m1" {
					t.Errorf("EachUnder(%q) yielded machine %q", tt.root, m.Machine)
				}
				got = append(got, underLabel(m))
				return nil
			})
		})
		slices.Sort(got)
		want := slices.Sorted(slices.Values(tt.want))
		if !slices.Equal(got, want) {
			t.Errorf("EachUnder(%q) = %q; want %q", tt.root, got, want)
		}
		// The rescan's reader finds the same rows by the index and by a
		// pass over the table.
		for _, whole := range []bool{false, true} {
			var got []string
			onPool(t, d, func(ctx context.Context, r repos) error {
				return r.files.EachValidatorsUnder(ctx, "m1", tt.root, whole, func(m dto.FileMeta, _ []byte) error {
					got = append(got, underLabel(m))
					return nil
				})
			})
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("EachValidatorsUnder(%q, whole %v) = %q; want %q", tt.root, whole, got, want)
			}
		}
	}
}

// underLabel names a row as TestEachUnder's wants do: path, or path!inner.
func underLabel(m dto.FileMeta) string {
	if m.ArchivePath != "" {
		return m.Path + "!" + m.ArchivePath
	}
	return m.Path
}

func TestEachUnderStopsOnError(t *testing.T) {
	d := dbtest.MustOpen(t)
	upsert(t, d, []dto.FileMeta{file("m", "/r/1", 1), file("m", "/r/2", 2), file("m", "/r/3", 3)})
	stop := fmt.Errorf("stop")
	calls := 0
	err := d.WithRead(func(x *sqlx.DB) error {
		return repo.NewFiles(x).EachUnder(t.Context(), "m", "/r", func(dto.FileMeta) error { calls++; return stop })
	})
	if err != stop || calls != 1 {
		t.Errorf("EachUnder = %v after %d calls; want fn's error after 1", err, calls)
	}
}

func TestPathRange(t *testing.T) {
	tests := []struct{ root, lo, hi string }{
		{"/a/b", "/a/b/", "/a/b0"},
		{"/a/b/", "/a/b/", "/a/b0"},
		{"/", "/", "0"},
	}
	for _, tt := range tests {
		if lo, hi := repo.PathRange(tt.root); lo != tt.lo || hi != tt.hi {
			t.Errorf("PathRange(%q) = %q, %q; want %q, %q", tt.root, lo, hi, tt.lo, tt.hi)
		}
	}
}

func TestMarkDeletedCounts(t *testing.T) {
	d := dbtest.MustOpen(t)
	var fs []dto.FileMeta
	var paths []string
	for i := range 250 {
		p := fmt.Sprintf("/t/%03d", i)
		fs = append(fs, file("m1", p, 10))
		paths = append(paths, p)
	}
	upsert(t, d, append(fs, file("m2", "/t/000", 5), file("m3", "/t/000", 7)))
	byPath := getByPaths(t, d, "m1", paths)
	ids := make([]int64, len(paths))
	for i, p := range paths {
		ids[i] = byPath[p].ID
	}

	seen := t0.Add(48 * time.Hour)
	var scanID int64
	onPool(t, d, func(ctx context.Context, r repos) error {
		var err error
		if scanID, err = r.scans.Create(ctx, dto.Scan{Machine: "m1", Roots: []string{"/t"}, Started: seen}); err != nil {
			return err
		}
		// 210 deleted (two chunks); the others are left as they were.
		return r.files.MarkDeleted(ctx, "m1", ids[20:230], scanID, seen.Add(time.Second))
	})

	got := getByPaths(t, d, "m1", paths)
	for i, p := range paths {
		f := got[p]
		var wantOp dto.Operation = dto.OpAdd
		wantScanned, wantScan := fs[i].Scanned, int64(0)
		if i >= 20 && i < 230 {
			wantOp, wantScanned, wantScan = dto.OpDel, seen.Add(time.Second), scanID
		}
		if f.Operation != wantOp || !f.Scanned.Equal(wantScanned) || f.ScanID != wantScan {
			t.Fatalf("%s: op %s, scanned %v, scan %d; want %s, %v, %d", p, f.Operation, f.Scanned, f.ScanID, wantOp, wantScanned, wantScan)
		}
		if f.Size != 10 || f.Name != fs[i].Name {
			t.Fatalf("%s: MarkDeleted changed other fields: %+v", p, f)
		}
	}

	var c dto.Counts
	onPool(t, d, func(ctx context.Context, r repos) error {
		var err error
		c, err = r.files.Counts(ctx)
		return err
	})
	// 40 present files of m1 at 10 bytes, plus m2's 5 and m3's 7.
	want := dto.Counts{Files: 42, Deleted: 210, Machines: 3, Bytes: 40*10 + 5 + 7, Scans: 1} // no file is hashed
	if c != want {
		t.Errorf("Counts() = %+v; want %+v", c, want)
	}
}

func TestCountsEmpty(t *testing.T) {
	d := dbtest.MustOpen(t)
	var c dto.Counts
	onPool(t, d, func(ctx context.Context, r repos) error {
		var err error
		c, err = r.files.Counts(ctx)
		return err
	})
	if c != (dto.Counts{}) {
		t.Errorf("Counts() on an empty catalog = %+v; want zeros", c)
	}
}

func TestScansRoundTrip(t *testing.T) {
	d := dbtest.MustOpen(t)
	ctx := t.Context()
	var recent []dto.Scan
	onPool(t, d, func(ctx context.Context, r repos) error {
		var err error
		recent, err = r.scans.Recent(ctx, 5)
		return err
	})
	if len(recent) != 0 {
		t.Errorf("Recent on an empty catalog = %+v; want none", recent)
	}

	first := dto.Scan{Machine: "m1", Roots: []string{"/home/u", "/mnt/disk \xff"}, Started: t0}
	second := dto.Scan{Machine: "m2", Roots: []string{"/"}, Started: t0.Add(time.Minute)}
	onPool(t, d, func(ctx context.Context, r repos) error {
		var err error
		if first.ID, err = r.scans.Create(ctx, first); err != nil {
			return err
		}
		second.ID, err = r.scans.Create(ctx, second)
		return err
	})

	var got dto.Scan
	onPool(t, d, func(_ context.Context, r repos) error {
		var err error
		got, err = r.scans.Get(ctx, first.ID)
		return err
	})
	if got.Status != dto.ScanRunning || !got.Finished.IsZero() || got.TxMetrics != nil ||
		!slices.Equal(got.Roots, first.Roots) || !got.Started.Equal(first.Started) || got.Machine != "m1" {
		t.Errorf("running scan = %+v; want %+v with status running", got, first)
	}

	first.Finished = t0.Add(2 * time.Minute)
	first.Status = dto.ScanPartial
	first.ScanCounts = dto.ScanCounts{FilesSeen: 1, Added: 2, Modified: 3, Deleted: 4, Unchanged: 5, Skipped: 6, Failed: 7, BytesHashed: 1 << 40}
	first.TxMetrics = &dto.TxMetrics{Ops: map[string]dto.OpMetrics{
		"batch":  {Count: 12, Failures: map[string]int64{"busy": 1, "constraint": 2}, BusyRetries: 3, TotalMS: 45.5, SlowestMS: 9.25},
		"finish": {Count: 1},
	}}
	onPool(t, d, func(ctx context.Context, r repos) error {
		if err := r.scans.Finish(ctx, first); err != nil {
			return err
		}
		var err error
		got, err = r.scans.Get(ctx, first.ID)
		if err != nil {
			return err
		}
		recent, err = r.scans.Recent(ctx, 5)
		return err
	})
	if !got.Started.Equal(first.Started) || !got.Finished.Equal(first.Finished) {
		t.Errorf("times = %v, %v; want %v, %v", got.Started, got.Finished, first.Started, first.Finished)
	}
	got.Started, got.Finished = first.Started, first.Finished
	if !reflect.DeepEqual(got, first) {
		t.Errorf("finished scan =\n%+v\n%+v; want\n%+v\n%+v", got, got.TxMetrics, first, first.TxMetrics)
	}
	if ids := []int64{recent[0].ID, recent[1].ID}; len(recent) != 2 || !slices.Equal(ids, []int64{second.ID, first.ID}) {
		t.Errorf("Recent = %v; want newest first: %d, %d", ids, second.ID, first.ID)
	}
	if recent[1].TxMetrics == nil || !maps.Equal(recent[1].TxMetrics.Ops["batch"].Failures, first.TxMetrics.Ops["batch"].Failures) {
		t.Errorf("Recent()[1].TxMetrics = %+v; want %+v", recent[1].TxMetrics, first.TxMetrics)
	}
	onPool(t, d, func(ctx context.Context, r repos) error {
		if _, err := r.scans.Get(ctx, 9999); err == nil {
			t.Error("Get(absent id) = nil error; want one")
		}
		return nil
	})
}

// TestEachValidatorsIn reads the rows directly in one directory, in path
// order, skipping every subdirectory's rows, and nothing of names that only
// sort near it.
func TestEachValidatorsIn(t *testing.T) {
	d := dbtest.MustOpen(t)
	paths := []string{
		"/a", "/a-x", "/a.txt", "/a/!", "/a/b", "/a/b-c", "/a/b.txt", "/a/b/x", "/a/b/x/y", "/a/b/\xff",
		"/a/c/d/e", "/a/z", "/a/\xff", "/a0", "/ab/q",
	}
	var fs []dto.FileMeta
	for i, p := range paths {
		fs = append(fs, file("m1", p, i))
	}
	fs[slices.Index(paths, "/a/b.txt")].Operation = dto.OpDel
	inner := file("m1", "/a/z", 99)
	inner.ArchivePath = "in/side.txt"
	fs = append(fs, inner, file("m2", "/a/m2only", 0))
	upsert(t, d, fs)

	tests := []struct {
		dir  string
		want []string // in order; an archive entry as path!inner
	}{
		{"/a", []string{"/a/!", "/a/b", "/a/b-c", "/a/b.txt", "/a/z", "/a/z!in/side.txt", "/a/\xff"}},
		{"/a/b", []string{"/a/b/x", "/a/b/\xff"}},
		{"/a/c", nil},
		{"/a/c/d", []string{"/a/c/d/e"}},
		{"/", []string{"/a", "/a-x", "/a.txt", "/a0"}},
		{"/nowhere", nil},
	}
	for _, tt := range tests {
		var got []string
		onPool(t, d, func(ctx context.Context, r repos) error {
			return r.files.EachValidatorsIn(ctx, "m1", tt.dir, func(m dto.FileMeta, _ []byte) error {
				got = append(got, underLabel(m))
				return nil
			})
		})
		if !slices.Equal(got, tt.want) {
			t.Errorf("EachValidatorsIn(%q) = %q; want %q", tt.dir, got, tt.want)
		}
	}

	var at []string
	onPool(t, d, func(ctx context.Context, r repos) error {
		return r.files.EachValidatorsAt(ctx, "m1", "/a/z", func(m dto.FileMeta, _ []byte) error {
			at = append(at, underLabel(m))
			return nil
		})
	})
	if want := []string{"/a/z", "/a/z!in/side.txt"}; !slices.Equal(at, want) {
		t.Errorf("EachValidatorsAt(/a/z) = %q; want %q", at, want)
	}

	// CountUnder and EachPresentUnder agree with EachUnder's range.
	var n int64
	var present []string
	onPool(t, d, func(ctx context.Context, r repos) error {
		var err error
		if n, err = r.files.CountUnder(ctx, "m1", "/a/b"); err != nil {
			return err
		}
		return r.files.EachPresentUnder(ctx, "m1", "/a", func(row repo.PresentRow) error {
			path := row.Path
			present = append(present, path)
			return nil
		})
	})
	if n != 4 {
		t.Errorf("CountUnder(/a/b) = %d; want 4", n)
	}
	want := []string{"/a", "/a/!", "/a/b", "/a/b-c", "/a/b/x", "/a/b/x/y", "/a/b/\xff", "/a/c/d/e", "/a/z", "/a/z", "/a/\xff"}
	if !slices.Equal(present, want) {
		t.Errorf("EachPresentUnder(/a) = %q; want %q", present, want)
	}
}

// TestUpsertManyKeyTwiceInOneChunk: a chunk that holds one file's key twice
// leaves the row as the last of them says, on both engines (PostgreSQL
// refuses an upsert that touches one row twice, so the writer must not send
// both), and writes every other file of the chunk.
func TestUpsertManyKeyTwiceInOneChunk(t *testing.T) {
	d := dbtest.MustOpen(t)
	first, second, other := file("m", "/twice", 1), file("m", "/twice", 2), file("m", "/other", 3)
	upsert(t, d, []dto.FileMeta{first, other, second})
	got := getByPaths(t, d, "m", []string{"/twice", "/other"})
	if len(got) != 2 || got["/twice"].Size != second.Size || got["/twice"].Validators != second.Validators || got["/other"].Size != other.Size {
		t.Errorf("rows %+v; want /twice as the chunk's last says, and /other", got)
	}
}
