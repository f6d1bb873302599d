package catalogtest

import (
	"archive/zip"
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/dbtest"
	"github.com/indexer/indexer/internal/digest"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/service"
)

// Entry is one row of a Sample catalog as the test wrote it.
type Entry struct {
	Machine     string
	Path        string // on disk, absolute
	ArchivePath string // set for an archive entry (then Content is the entry's)
	Content     []byte
	Deleted     bool // recorded as DEL: the file was removed after cataloguing
	Archived    bool
}

// SampleCatalog is a small catalog built from real files.
type SampleCatalog struct {
	*service.Catalog
	DBPath  string            // a file, or in dbtest.Main's PostgreSQL pass a URL
	Roots   map[string]string // machine → root directory
	Entries []Entry
}

// Machines of a Sample catalog.
const (
	M1 = "m1"
	M2 = "m2"
)

// Sample writes two small trees in tb's temporary directory, one per machine,
// with duplicates across and within them, a hard link, empty files, odd names
// (%, _, a backslash, a newline, a tab, bytes that are not UTF-8, upper case),
// a file removed after cataloguing (recorded DEL) and entries of an archive,
// and catalogs them as a scan would (see Record). Entries tells what is where,
// so that tests can compute what queries must answer from the files alone.
func Sample(tb testing.TB) *SampleCatalog {
	tb.Helper()
	return sample(tb, false)
}

// SampleScanned is Sample catalogued by the real scan, archives included:
// the old.zip on m2 is a real zip, and the file removed after the first scan
// is recorded DEL by a rescan.
func SampleScanned(tb testing.TB) *SampleCatalog {
	tb.Helper()
	return sample(tb, true)
}

func sample(tb testing.TB, scanned bool) *SampleCatalog {
	dir := tb.TempDir()
	s := &SampleCatalog{DBPath: dbtest.Location(tb, filepath.Join(dir, "index.db")), Roots: map[string]string{
		M1: filepath.Join(dir, "m1"), M2: filepath.Join(dir, "m2")}}
	s.Catalog = MustOpenAt(tb, s.DBPath)

	rng := rand.New(rand.NewPCG(3, 4))
	big := make([]byte, 20000)
	for i := range big {
		big[i] = byte(rng.IntN(256))
	}
	photo := bytes.Repeat([]byte("photo "), 500) // 3000 bytes
	trees := map[string]map[string][]byte{
		M1: {
			"a/photo1.jpg":      photo,
			"a/photo1-copy.JPG": photo,
			"b/deep/x.jpg":      photo,
			"a/doc.txt":         []byte("hello\n"),
			"b/doc.txt":         []byte("hello\n"),
			"a/unique.bin":      []byte("only once"),
			"a/empty1":          nil,
			"b/empty2":          nil,
			"big1.dat":          big,
			"b/big2.dat":        big,
			"odd/100% done.txt": []byte("odd"),
			"odd/100x done.txt": []byte("odd"),
			"odd/a_b.txt":       []byte("odd"),
			"odd/axb.txt":       []byte("other"),
			`odd/back\slash`:    []byte("other"),
			"odd/new\nline.txt": []byte("odd"),
			"odd/tab\there.txt": []byte("odd"),
			"odd/bad\xffname":   []byte("odd"),
			"odd/Café.TXT":      []byte("café"),
			"gone.txt":          []byte("hello\n"),
			".profile":          []byte("export X=1"),
			"links/orig.bin":    big[:5000],
		},
		M2: {
			"photos/photo1.jpg": photo,
			"docs/doc.txt":      []byte("hello\n"),
			"docs/report.pdf":   []byte("%PDF report"),
			"copy/big.dat":      big,
			"misc/x.go":         []byte("package x\n"),
			"misc/y.rs":         []byte("fn main() {}\n"),
			"misc/z.PY":         []byte("print('hello, world')\n"),
			"misc/w.sh":         []byte("#!/bin/sh\necho hello world\n"),
		},
	}
	for _, m := range []string{M1, M2} {
		root := s.Roots[m]
		for rel, content := range trees[m] {
			p := filepath.Join(root, rel)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				tb.Fatal(err)
			}
			if err := os.WriteFile(p, content, 0o644); err != nil {
				tb.Fatal(err)
			}
			s.Entries = append(s.Entries, Entry{Machine: m, Path: p, Content: content})
		}
	}
	// Hard links: a second name of a/photo1.jpg, and three names of one file
	// that has no other copy (nothing to reclaim there).
	for _, l := range [][2]string{{"a/photo1.jpg", "b/link.jpg"}, {"links/orig.bin", "links/l2.bin"}, {"links/orig.bin", "links/l3.bin"}} {
		old, link := filepath.Join(s.Roots[M1], l[0]), filepath.Join(s.Roots[M1], l[1])
		if err := os.Link(old, link); err != nil {
			tb.Fatal(err)
		}
		content, _ := os.ReadFile(old)
		s.Entries = append(s.Entries, Entry{Machine: M1, Path: link, Content: content})
	}

	// Entries of an archive on m2: one holds the photo, one is unique.
	zipPath := filepath.Join(s.Roots[M2], "docs", "old.zip")
	inside := map[string][]byte{"2019/photo1.jpg": photo, "readme.md": []byte("inside only")}
	zipBytes := zipOf(tb, inside)
	if err := os.WriteFile(zipPath, zipBytes, 0o644); err != nil {
		tb.Fatal(err)
	}
	s.Entries = append(s.Entries, Entry{Machine: M2, Path: zipPath, Content: zipBytes})
	for inner, content := range inside {
		s.Entries = append(s.Entries, Entry{Machine: M2, Path: zipPath, ArchivePath: inner, Content: content, Archived: true})
	}

	gone := filepath.Join(s.Roots[M1], "gone.txt")
	if scanned {
		s.scan(tb, M1)
		s.scan(tb, M2)
		// gone.txt disappears; the rescan records it DEL.
		if err := os.Remove(gone); err != nil {
			tb.Fatal(err)
		}
		s.scan(tb, M1)
	} else {
		Record(tb, s.Catalog, M1, s.Roots[M1])
		Record(tb, s.Catalog, M2, s.Roots[M2])
		if err := os.Remove(gone); err != nil {
			tb.Fatal(err)
		}
		MarkDeleted(tb, s.Catalog, M1, gone)
		var rows []dto.FileWithHash
		for inner, content := range inside {
			h, err := digest.Reader(bytes.NewReader(content))
			if err != nil {
				tb.Fatal(err)
			}
			rows = append(rows, dto.FileWithHash{Hash: h, FileMeta: dto.FileMeta{
				Machine: M2, Path: zipPath, ArchivePath: inner, Name: filepath.Base(inner), Size: h.Size,
				Modified: time.Now(), Scanned: time.Now(), Operation: dto.OpAdd, IsArchived: true,
				Validators: dto.Validators{Size: h.Size}}})
		}
		Insert(tb, s.Catalog, rows)
	}
	for i := range s.Entries {
		if s.Entries[i].Path == gone {
			s.Entries[i].Deleted = true
		}
	}
	return s
}

// scan runs the real scan of machine's root, archives included.
func (s *SampleCatalog) scan(tb testing.TB, machine string) {
	tb.Helper()
	rep, err := s.Scan(context.Background(), []string{s.Roots[machine]}, service.ScanOptions{Machine: machine, Workers: 2, Archives: true})
	if err != nil {
		tb.Fatalf("scan %s: %v", s.Roots[machine], err)
	}
	if rep.Status != dto.ScanComplete {
		tb.Fatalf("scan %s: %s, want complete: %+v", s.Roots[machine], rep.Status, rep)
	}
}

// zipOf returns a zip archive holding files (inner path → content).
func zipOf(tb testing.TB, files map[string][]byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f, err := w.Create(n)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := f.Write(files[n]); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// EachSample runs fn on a Sample ("recorded") and on a SampleScanned
// ("scanned"), as subtests.
func EachSample(t *testing.T, fn func(t *testing.T, s *SampleCatalog)) {
	t.Run("recorded", func(t *testing.T) { fn(t, Sample(t)) })
	t.Run("scanned", func(t *testing.T) { fn(t, SampleScanned(t)) })
}
