package service

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/archive/archivetest"
	"github.com/indexer/indexer/internal/dto"
)

// flipByte changes one byte of path in place and puts its mtime back, as
// bit rot or a bad sector would: size and mtime say nothing happened.
func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x01
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
}

func findings(rep VerifyReport) map[string]VerifyFinding {
	out := map[string]VerifyFinding{}
	for _, f := range rep.Findings {
		out[entryPath(f.Path, f.ArchivePath)] = f
	}
	return out
}

func TestVerifyFindsCorruptionAndTellsItFromChange(t *testing.T) {
	ctx := context.Background()
	c := openTestCatalog(t)
	root := t.TempDir()
	p := func(rel string) string { return filepath.Join(root, rel) }
	rotten := bytes.Repeat([]byte("precious data "), 1000)
	writeFile(t, p("intact.txt"), []byte("fine"))
	writeFile(t, p("rotten.bin"), rotten)
	writeFile(t, p("truncated.txt"), []byte("this file will be cut short"))
	writeFile(t, p("replaced.txt"), []byte("the original"))
	writeFile(t, p("replaced-same-stat.txt"), []byte("original, 25 bytes long.."))
	writeFile(t, p("moved.txt"), []byte("I move away"))
	tarball := archivetest.Tar(t, []archivetest.File{
		{Name: "good.txt", Data: []byte("an entry that stays good")},
		{Name: "bad.txt", Data: bytes.Repeat([]byte("an entry that rots "), 50)},
	})
	writeFile(t, p("backup.tar"), tarball)
	if _, err := c.Scan(ctx, []string{root}, ScanOptions{Machine: "m", Archives: true}); err != nil {
		t.Fatal(err)
	}

	flipByte(t, p("rotten.bin"), 5000)
	if err := os.Truncate(p("truncated.txt"), 4); err != nil {
		t.Fatal(err)
	}
	writeFile(t, p("replaced.txt"), []byte("another file with the same name"))
	// A file put in place of another, same size and mtime (cp -p, rsync -t).
	st, err := os.Stat(p("replaced-same-stat.txt"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, p("new"), []byte("another, also 25 bytes..."))
	if err := os.Chtimes(p("new"), st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(p("new"), p("replaced-same-stat.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(p("moved.txt"), p("elsewhere.txt")); err != nil {
		t.Fatal(err)
	}
	// A byte of bad.txt's content, inside the tar: the archive's size and
	// mtime are as catalogued.
	flipByte(t, p("backup.tar"), int64(bytes.Index(tarball, []byte("an entry that rots"))+7))

	rep, err := c.Verify(ctx, VerifyOptions{Machine: "m"})
	if err != nil {
		t.Fatal(err)
	}
	got := findings(rep)
	want := map[string]dto.VerifyOutcome{
		p("rotten.bin"):               dto.VerifyCorrupt,
		p("truncated.txt"):            dto.VerifyChanged,
		p("replaced.txt"):             dto.VerifyChanged,
		p("replaced-same-stat.txt"):   dto.VerifyChanged,
		p("moved.txt"):                dto.VerifyMissing,
		p("backup.tar"):               dto.VerifyCorrupt,
		p("backup.tar") + "::bad.txt": dto.VerifyCorrupt,
	}
	for path, o := range want {
		if got[path].Outcome != o {
			t.Errorf("%s: %q; want %q", path, got[path].Outcome, o)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d findings %v; want %d", len(got), got, len(want))
	}
	// 9 rows: 7 files (moved.txt is one of them) and 2 entries.
	if rep.Checked != 9 || rep.OK != 2 || rep.Corrupt != 3 || rep.Changed != 3 || rep.Missing != 1 {
		t.Errorf("report %+v; want 9 checked: 2 ok, 3 corrupt, 3 changed, 1 missing", rep)
	}
	rot := got[p("rotten.bin")]
	rotted := slices.Clone(rotten)
	rotted[5000] ^= 1
	if rot.Expected == nil || rot.Actual == nil || rot.Expected.SHA256 != sha256Of(rotten) || rot.Actual.SHA256 != sha256Of(rotted) ||
		rot.Actual.MD5 != digestsOf(rotted).md5 || rot.Actual.SHA1 != digestsOf(rotted).sha1 {
		t.Errorf("rotten.bin: expected %+v, actual %+v; want the digests before and after the flip", rot.Expected, rot.Actual)
	}
	if d := got[p("replaced-same-stat.txt")].Detail; d != "replaced by another file" {
		t.Errorf("replaced-same-stat.txt: detail %q", d)
	}

	// The corruption is on record until resolved.
	sum, err := c.VerifySummary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var corrupt []string
	for _, f := range sum.Corrupt {
		corrupt = append(corrupt, entryPath(f.Path, f.ArchivePath))
	}
	if want := []string{p("backup.tar"), p("backup.tar") + "::bad.txt", p("rotten.bin")}; !slices.Equal(corrupt, want) || sum.LastVerified.IsZero() || sum.Verified != 9 {
		t.Errorf("summary: corrupt %q, last %v, %d verified; want %q", corrupt, sum.LastVerified, sum.Verified, want)
	}

	// --accept takes rotten.bin's content as good.
	rep, err = c.Verify(ctx, VerifyOptions{Machine: "m", Paths: []string{p("rotten.bin")}, Accept: true})
	if err != nil || rep.Checked != 1 || rep.Corrupt != 1 || !rep.Findings[0].Accepted {
		t.Fatalf("verify --accept: %+v, %v", rep, err)
	}
	rep, err = c.Verify(ctx, VerifyOptions{Machine: "m", Paths: []string{p("rotten.bin")}})
	if err != nil || rep.OK != 1 {
		t.Errorf("after --accept: %+v, %v; want ok", rep, err)
	}
	// A rescan rehashes the archive (its ctime moved): resolved too.
	if _, err := c.Scan(ctx, []string{root}, ScanOptions{Machine: "m", Archives: true}); err != nil {
		t.Fatal(err)
	}
	if sum, err = c.VerifySummary(ctx); err != nil || len(sum.Corrupt) != 0 {
		t.Errorf("after --accept and a rescan: corrupt %+v, %v; want none", sum.Corrupt, err)
	}
}

func TestVerifySpreadsTheWork(t *testing.T) {
	ctx := context.Background()
	c := openTestCatalog(t)
	root := t.TempDir()
	for _, n := range []string{"a", "b", "c", "d"} {
		writeFile(t, filepath.Join(root, n), bytes.Repeat([]byte(n), 100))
	}
	scanOK(t, c, root)

	for range 2 {
		rep, err := c.Verify(ctx, VerifyOptions{Machine: "m", SamplePercent: 50})
		if err != nil || rep.Checked != 2 || rep.OK != 2 {
			t.Fatalf("sample of 50%%: %+v, %v; want 2 files ok", rep, err)
		}
	}
	// The second half-sample takes the two never verified.
	if got := verifiedSince(t, c, time.Time{}); len(got) != 4 {
		t.Errorf("after two samples of 50%%, verified %q; want all four", got)
	}
	rep, err := c.Verify(ctx, VerifyOptions{Machine: "m", OlderThan: time.Hour})
	if err != nil || rep.Checked != 0 {
		t.Errorf("--older-than 1h right after: %+v, %v; want nothing to check", rep, err)
	}
	rep, err = c.Verify(ctx, VerifyOptions{Machine: "m", MaxBytes: 250})
	if err != nil || rep.Checked != 2 || rep.Bytes != 200 {
		t.Errorf("--max-bytes 250: %+v, %v; want 2 files, 200 bytes", rep, err)
	}
}

// verifiedSince lists the files with a verification recorded after t.
func verifiedSince(t *testing.T, c *Catalog, since time.Time) []string {
	t.Helper()
	var out []string
	err := c.db.WithRead(func(r *sqlx.DB) error {
		return r.Select(&out, "SELECT f.path FROM verifications v JOIN files f ON f.id = v.file_id WHERE v.verified > ? ORDER BY f.path", since.UnixNano())
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
