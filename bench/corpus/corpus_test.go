package corpus

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"crypto/sha256"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func treeDigest(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = sha256.Sum256(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestGenerateDeterministicWithDuplicates(t *testing.T) {
	spec := Spec{Files: 300, MinSize: 1, MaxSize: 4096, LogSizes: true, DupFrac: 0.2, SameSize: 0.05, PerDir: 10, Seed: 7}
	a, b := t.TempDir(), t.TempDir()
	sa, err := Generate(a, spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(b, spec); err != nil {
		t.Fatal(err)
	}
	da, db := treeDigest(t, a), treeDigest(t, b)
	if len(da) != spec.Files {
		t.Fatalf("got %d files, want %d", len(da), spec.Files)
	}
	distinct := map[[32]byte]bool{}
	for k, v := range da {
		if db[k] != v {
			t.Fatalf("%s differs between two generations of the same seed", k)
		}
		distinct[v] = true
	}
	if got := spec.Files - len(distinct); got < sa.Dups*8/10 || sa.Dups < 30 {
		t.Errorf("duplicates: %d repeated contents on disk, generator says %d; want about 20%% of %d", got, sa.Dups, spec.Files)
	}
}

func TestChange(t *testing.T) {
	dir := t.TempDir()
	if _, err := Generate(dir, Spec{Files: 400, MinSize: 100, MaxSize: 200, PerDir: 50, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	before := treeDigest(t, dir)
	cs, err := Change(dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	after := treeDigest(t, dir)
	if got, want := len(before)-len(after), cs.Deleted; got != want || want != 2 {
		t.Errorf("deleted %d files, change says %d, want 2", got, want)
	}
	changed := 0
	for k, v := range after {
		if before[k] != v {
			changed++
		}
	}
	if changed != cs.SameSize+cs.Resized || changed != 4 {
		t.Errorf("%d files changed, change says %d+%d, want 4", changed, cs.SameSize, cs.Resized)
	}
}

func TestArchivesDeterministicAndReadable(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	sa, err := Archives(a, 4, 30, 9)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Archives(b, 4, 30, 9); err != nil {
		t.Fatal(err)
	}
	if sa.Archives != 4 || sa.Entries != 120 || sa.Dups == 0 || sa.EntryBytes < 120<<10 {
		t.Errorf("stats %+v", sa)
	}
	da, db := treeDigest(t, a), treeDigest(t, b)
	if len(da) != 4 {
		t.Fatalf("%d archives", len(da))
	}
	for k, v := range da {
		if db[k] != v {
			t.Errorf("%s differs between two runs with one seed", k)
		}
	}
	// Every entry reads back whole: a zip and a tar.gz.
	n, size := 0, int64(0)
	err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		c, s, err := countEntries(p)
		n, size = n+c, size+s
		return err
	})
	if err != nil || n != sa.Entries || size != sa.EntryBytes {
		t.Errorf("read back %d entries, %d bytes (%v); want %d, %d", n, size, err, sa.Entries, sa.EntryBytes)
	}
}

func countEntries(p string) (int, int64, error) {
	if strings.HasSuffix(p, ".zip") {
		zr, err := zip.OpenReader(p)
		if err != nil {
			return 0, 0, err
		}
		defer zr.Close()
		var size int64
		for _, f := range zr.File {
			r, err := f.Open()
			if err != nil {
				return 0, 0, err
			}
			n, err := io.Copy(io.Discard, r)
			r.Close()
			if err != nil {
				return 0, 0, err
			}
			size += n
		}
		return len(zr.File), size, nil
	}
	f, err := os.Open(p)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return 0, 0, err
	}
	tr := tar.NewReader(gz)
	count, size := 0, int64(0)
	for {
		_, err := tr.Next()
		if err == io.EOF {
			return count, size, nil
		}
		if err != nil {
			return 0, 0, err
		}
		n, err := io.Copy(io.Discard, tr)
		if err != nil {
			return 0, 0, err
		}
		count, size = count+1, size+n
	}
}
