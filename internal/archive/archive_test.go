package archive

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mholt/archives"

	"github.com/indexer/indexer/internal/archive/archivetest"
)

var mod = archivetest.Mod

// file is an entry to put in a test archive.
type file struct {
	name string
	data []byte
}

func conv(files []file) []archivetest.File {
	out := make([]archivetest.File, len(files))
	for i, f := range files {
		out[i] = archivetest.File{Name: f.name, Data: f.data}
	}
	return out
}

// sample is the content every format test packs: text, binary larger than
// any buffer, an empty file, and a file in a subdirectory.
func sample() []file {
	rng := rand.New(rand.NewPCG(7, 7))
	bin := make([]byte, 300<<10)
	for i := range bin {
		bin[i] = byte(rng.IntN(256))
	}
	return []file{
		{"a.txt", []byte("alpha\n")},
		{"dir/b.txt", []byte(strings.Repeat("bravo ", 20000))},
		{"dir/sub/c.bin", bin},
		{"empty", nil},
	}
}

func zipOf(t testing.TB, files []file, method uint16) []byte {
	return archivetest.Zip(t, conv(files), method)
}

func tarOf(t testing.TB, files []file) []byte { return archivetest.Tar(t, conv(files)) }

func compress(t testing.TB, c archives.Compressor, b []byte) []byte {
	return archivetest.Compress(t, c, b)
}

func rarOf(files []file) []byte { return archivetest.Rar(conv(files)) }

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// open writes b to a temporary file with a name that says nothing of its
// format, and opens it.
func open(t testing.TB, b []byte) *os.File {
	t.Helper()
	p := filepath.Join(t.TempDir(), "blob.dat")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// got is what Walk reported of one entry.
type got struct {
	size      int64
	declared  int64
	sha256    string
	modified  time.Time
	encrypted bool
	err       error
}

// walkAll walks b and gathers its entries by name.
func walkAll(t testing.TB, b []byte, lim Limits) (map[string]got, []string, error) {
	t.Helper()
	out := map[string]got{}
	var order []string
	err := Walk(context.Background(), "test.archive", open(t, b), lim, func(e Entry, r io.Reader) error {
		g := got{declared: e.Size, modified: e.Modified, encrypted: e.Encrypted, err: e.Err}
		if (r == nil) != (e.Err != nil) {
			t.Errorf("%s: reader %v with Err %v", e.Name, r != nil, e.Err)
		}
		if r != nil {
			h := sha256.New()
			n, err := io.Copy(h, r)
			if err != nil {
				return err
			}
			g.size, g.sha256 = n, hex.EncodeToString(h.Sum(nil))
		}
		if _, dup := out[e.Name]; !dup {
			order = append(order, e.Name)
		}
		out[e.Name] = g
		return nil
	})
	return out, order, err
}

func TestWalkEveryFormat(t *testing.T) {
	files := sample()
	tr := tarOf(t, files)
	cases := []struct {
		format Format
		data   []byte
	}{
		{Zip, zipOf(t, files, zip.Deflate)},
		{Zip, zipOf(t, files, zip.Store)},
		{Tar, tr},
		{TarGz, compress(t, archives.Gz{}, tr)},
		{TarBz2, compress(t, archives.Bz2{}, tr)},
		{TarXz, compress(t, archives.Xz{}, tr)},
		{TarZst, compress(t, archives.Zstd{}, tr)},
		{TarLz4, compress(t, archives.Lz4{}, tr)},
		{TarLz, compress(t, archives.Lzip{}, tr)},
		{Rar, rarOf(files)},
	}
	for _, c := range cases {
		t.Run(string(c.format), func(t *testing.T) {
			f := open(t, c.data)
			format, ok, err := Identify(context.Background(), f)
			if err != nil || !ok || format != c.format {
				t.Fatalf("Identify = %q, %v, %v; want %q", format, ok, err, c.format)
			}
			head := make([]byte, HeadSize)
			n, _ := io.ReadFull(f, head)
			if !Sniff(head[:n]) {
				t.Errorf("Sniff of a %s is false", c.format)
			}
			entries, _, err := walkAll(t, c.data, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != len(files) {
				t.Errorf("got %d entries %v, want %d (directories and links are no entries)", len(entries), keys(entries), len(files))
			}
			for _, f := range files {
				g, ok := entries[f.name]
				if !ok {
					t.Errorf("entry %s missing", f.name)
					continue
				}
				if g.sha256 != sum(f.data) || g.size != int64(len(f.data)) || g.declared != int64(len(f.data)) {
					t.Errorf("%s: size %d (declared %d), sha256 %s; want %d, %s", f.name, g.size, g.declared, g.sha256, len(f.data), sum(f.data))
				}
				if !g.modified.Equal(mod) {
					t.Errorf("%s: modified %v, want %v", f.name, g.modified, mod)
				}
			}
		})
	}
}

// TestWalk7z reads a fixture made with 7-Zip (7zz a plain.7z a.txt dir empty),
// since no Go library writes 7z. Its content is known: see sample7z.
func TestWalk7z(t *testing.T) {
	b, err := os.ReadFile("testdata/plain.7z")
	if err != nil {
		t.Fatal(err)
	}
	format, ok, err := Identify(context.Background(), open(t, b))
	if err != nil || !ok || format != SevenZip {
		t.Fatalf("Identify = %q, %v, %v", format, ok, err)
	}
	if !Sniff(b) {
		t.Error("Sniff of a 7z is false")
	}
	entries, _, err := walkAll(t, b, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := sample7z()
	if len(entries) != len(want) {
		t.Errorf("got entries %v, want %d", keys(entries), len(want))
	}
	for _, f := range want {
		g := entries[f.name]
		if g.sha256 != sum(f.data) || !g.modified.Equal(mod) {
			t.Errorf("%s: %+v, want sha256 %s", f.name, g, sum(f.data))
		}
	}
}

// sample7z is the content of the 7z fixtures.
func sample7z() []file {
	return []file{
		{"a.txt", []byte("alpha\n")},
		{"dir/b.txt", []byte(strings.Repeat("bravo ", 20000))},
		{"empty", nil},
	}
}

func keys(m map[string]got) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestIdentifyIsByContent(t *testing.T) {
	tr := tarOf(t, sample())
	notArchives := map[string][]byte{
		"empty":          nil,
		"text":           []byte("PK is not enough\n"),
		"gzip of text":   compress(t, archives.Gz{}, []byte(strings.Repeat("just text\n", 1000))),
		"xz of text":     compress(t, archives.Xz{}, []byte("just text\n")),
		"zeros":          make([]byte, 4096),
		"half a tar hdr": tr[:300],
	}
	for name, b := range notArchives {
		f := open(t, b)
		format, ok, err := Identify(context.Background(), f)
		if err != nil || ok {
			t.Errorf("%s: Identify = %q, %v, %v; want not an archive", name, format, ok, err)
		}
		if pos, _ := f.Seek(0, io.SeekCurrent); pos != 0 {
			t.Errorf("%s: Identify left the file at %d", name, pos)
		}
		if err := Walk(context.Background(), name, f, Limits{}, nil); !errors.Is(err, ErrNotArchive) {
			t.Errorf("%s: Walk = %v, want ErrNotArchive", name, err)
		}
	}
	for _, name := range []string{"text", "empty", "zeros"} {
		if Sniff(notArchives[name]) {
			t.Errorf("Sniff(%s) is true", name)
		}
	}
}

func TestEncryptedZipEntries(t *testing.T) {
	// Go writes no encrypted zip; an entry with general-purpose bit 0 set
	// and noise for data is what a reader that ignored the bit would hash.
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "secret.txt", Method: zip.Store, Flags: 0x1,
		CompressedSize64: 24, UncompressedSize64: 12, CRC32: 1, Modified: mod})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(bytes.Repeat([]byte{0xA5}, 24))
	w, _ = zw.CreateHeader(&zip.FileHeader{Name: "plain.txt", Method: zip.Deflate, Modified: mod})
	w.Write([]byte("in clear\n"))
	zw.Close()

	fixture, err := os.ReadFile("testdata/zipcrypto.zip") // 7zz a -tzip -pSecret -mem=ZipCrypto
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		data      []byte
		encrypted []string
		clear     map[string][]byte
	}{
		"flag bit":       {buf.Bytes(), []string{"secret.txt"}, map[string][]byte{"plain.txt": []byte("in clear\n")}},
		"ZipCrypto (7z)": {fixture, []string{"a.txt", "dir/b.txt"}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			entries, _, err := walkAll(t, c.data, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range c.encrypted {
				g := entries[n]
				if !g.encrypted || !errors.Is(g.err, ErrEncrypted) || g.sha256 != "" {
					t.Errorf("%s: %+v, want reported encrypted and not read", n, g)
				}
				if g.err != nil && g.err.Error() != "archive test.archive: entry "+n+" is encrypted" {
					t.Errorf("message %q", g.err)
				}
			}
			for n, data := range c.clear {
				if g := entries[n]; g.sha256 != sum(data) {
					t.Errorf("%s: %+v", n, g)
				}
			}
		})
	}
}

func TestEncrypted7z(t *testing.T) {
	// 7zz a -pSecret encrypted.7z: names readable, content not.
	b, err := os.ReadFile("testdata/encrypted.7z")
	if err != nil {
		t.Fatal(err)
	}
	entries, _, err := walkAll(t, b, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a.txt", "dir/b.txt"} {
		if g := entries[n]; !g.encrypted || !errors.Is(g.err, ErrEncrypted) || g.sha256 != "" {
			t.Errorf("%s: %+v, want encrypted", n, g)
		}
	}
	// 7zz a -pSecret -mhe=on: even the names are encrypted.
	b, err = os.ReadFile("testdata/encrypted-headers.7z")
	if err != nil {
		t.Fatal(err)
	}
	entries, _, err = walkAll(t, b, Limits{})
	var ae *Error
	if !errors.As(err, &ae) || ae.Kind != ErrEncrypted || len(entries) != 0 {
		t.Fatalf("Walk = %v with %v, want the archive reported encrypted", err, keys(entries))
	}
	if got := err.Error(); got != "archive test.archive is encrypted" {
		t.Errorf("message %q", got)
	}
}

func TestEncryptedRarEntry(t *testing.T) {
	b := archivetest.Rar5([]archivetest.RarEntry{
		{Name: "open.txt", Data: []byte("open\n"), Modified: mod},
		{Name: "locked.txt", Data: []byte("not really encrypted"), Modified: mod, Encrypted: true},
		{Name: "after.txt", Data: []byte("after\n"), Modified: mod},
	})
	entries, _, err := walkAll(t, b, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if g := entries["locked.txt"]; !g.encrypted || g.sha256 != "" {
		t.Errorf("locked.txt: %+v", g)
	}
	if entries["open.txt"].sha256 != sum([]byte("open\n")) || entries["after.txt"].sha256 != sum([]byte("after\n")) {
		t.Errorf("clear entries: %+v", entries)
	}
}

// bomb is a zip whose second entry is 32 MiB of zeros (about 32 KiB packed)
// between two small ordinary entries. It is built once: deflating 32 MiB is
// the slowest thing these tests do.
var bomb = sync.OnceValue(func() []byte {
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
		panic(err)
	}
	return buf.Bytes()
})

func TestLimits(t *testing.T) {
	b := bomb()
	many := make([]file, 10)
	for i := range many {
		many[i] = file{name: string(rune('a'+i)) + ".txt", data: []byte{byte(i)}}
	}
	for _, c := range []struct {
		name  string
		data  []byte
		lim   Limits
		limit string
		kept  []string
	}{
		{"ratio", b, Limits{MaxRatio: 100}, "ratio", []string{"first.txt"}},
		{"bytes", b, Limits{MaxTotalBytes: 4 << 20}, "bytes", []string{"first.txt"}},
		{"entries", zipOf(t, many, zip.Deflate), Limits{MaxEntries: 5}, "entries", []string{"a.txt", "b.txt", "c.txt", "d.txt"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			entries, order, err := walkAll(t, c.data, c.lim)
			var le *LimitError
			if !errors.Is(err, ErrLimit) || !errors.As(err, &le) || le.Limit != c.limit {
				t.Fatalf("Walk = %v, want the %s limit", err, c.limit)
			}
			if !strings.HasPrefix(err.Error(), "archive test.archive exceeds the ") {
				t.Errorf("message %q", err)
			}
			if strings.Join(order, ",") != strings.Join(c.kept, ",") {
				t.Errorf("entries delivered %v, want %v", order, c.kept)
			}
			if g, ok := entries["zeros.bin"]; ok {
				t.Errorf("the bomb's entry was delivered: %+v", g)
			}
		})
	}
	// With no limits (negative), the same bomb is read through.
	entries, _, err := walkAll(t, b, Limits{MaxRatio: -1, MaxTotalBytes: -1, MaxEntries: -1})
	if err != nil || entries["zeros.bin"].size != 32<<20 || entries["last.txt"].size != 5 {
		t.Errorf("unlimited: %v, %+v", err, entries)
	}
}

func TestCorruptAndTruncated(t *testing.T) {
	files := sample()
	z := zipOf(t, files, zip.Deflate)
	tgz := compress(t, archives.Gz{}, tarOf(t, files))
	zipBadCRC := zipOf(t, []file{{"ok.txt", []byte("ok")}, {"bad.txt", []byte("will be damaged")}}, zip.Store)
	i := bytes.Index(zipBadCRC, []byte("will be damaged"))
	zipBadCRC[i] ^= 0xff

	for _, c := range []struct {
		name string
		data []byte
		kept []string // entries delivered whole before the error
	}{
		{"zip without its central directory", z[:len(z)/2], nil},
		{"tar.gz cut in the binary entry", tgz[:len(tgz)*2/3], []string{"a.txt", "dir/b.txt"}},
		{"tar cut in a header", tarOf(t, files)[:512*5+100], []string{"a.txt"}},
		{"zip entry with a bad CRC", zipBadCRC, []string{"ok.txt"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var whole []string
			err := Walk(context.Background(), "/x/t.arc", open(t, c.data), Limits{}, func(e Entry, r io.Reader) error {
				if _, err := io.Copy(io.Discard, r); err != nil {
					return err
				}
				whole = append(whole, e.Name)
				return nil
			})
			var ae *Error
			if !errors.As(err, &ae) || ae.Kind != ErrCorrupt {
				t.Fatalf("Walk = %v, want ErrCorrupt", err)
			}
			if !strings.HasPrefix(err.Error(), "archive /x/t.arc") || !strings.Contains(err.Error(), "is corrupt or truncated: ") {
				t.Errorf("message %q", err)
			}
			if strings.Join(whole, ",") != strings.Join(c.kept, ",") {
				t.Errorf("delivered %v, want %v", whole, c.kept)
			}
		})
	}
}

func TestEvilNamesAreText(t *testing.T) {
	names := []string{"../evil", "../../etc/passwd", "/abs/path", "a/../../b", `back\slash`}
	var files []file
	for _, n := range names {
		files = append(files, file{n, []byte(n)})
	}
	dir := t.TempDir()
	t.Chdir(dir)
	for _, data := range [][]byte{zipOf(t, files, zip.Deflate), tarOf(t, files), rarOf(files)} {
		entries, _, err := walkAll(t, data, Limits{MaxDepth: 3})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if entries[n].sha256 != sum([]byte(n)) {
				t.Errorf("%q: %+v", n, entries[n])
			}
		}
	}
	for _, p := range []string{"../evil", "evil", "../b", "b"} {
		if _, err := os.Lstat(filepath.Join(dir, p)); err == nil {
			t.Errorf("%s was written", p)
		}
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 0 {
		t.Errorf("the working directory has %v", left)
	}
}

func TestNested(t *testing.T) {
	inner := zipOf(t, []file{{"deep.txt", []byte("deep\n")}}, zip.Deflate)
	innerTgz := compress(t, archives.Gz{}, tarOf(t, []file{{"t/x.txt", []byte("x\n")}}))
	deeper := zipOf(t, []file{{"level2.zip", inner}}, zip.Store)
	corrupt := zipOf(t, []file{{"deep.txt", []byte("deep\n")}}, zip.Deflate)
	corrupt = corrupt[:len(corrupt)-30]
	outer := zipOf(t, []file{
		{"inner.zip", inner},
		{"inner.tgz", innerTgz},
		{"deeper.zip", deeper},
		{"broken.zip", corrupt},
		{"after.txt", []byte("after\n")},
	}, zip.Deflate)

	one, _, err := walkAll(t, outer, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(one) != 5 || one["inner.zip"].sha256 != sum(inner) || one["broken.zip"].err != nil {
		t.Errorf("depth 1: %+v, want the 5 entries, nested archives hashed as files", one)
	}

	two, _, err := walkAll(t, outer, Limits{MaxDepth: 2})
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"inner.zip": inner, "inner.zip::deep.txt": []byte("deep\n"), "inner.tgz::t/x.txt": []byte("x\n"),
		"deeper.zip::level2.zip": inner, "after.txt": []byte("after\n"), "broken.zip": nil,
	} {
		g, ok := two[name]
		if !ok {
			t.Errorf("depth 2: %s missing", name)
			continue
		}
		if data != nil && g.sha256 != sum(data) {
			t.Errorf("depth 2: %s: %+v", name, g)
		}
	}
	if _, ok := two["deeper.zip::level2.zip::deep.txt"]; ok {
		t.Error("depth 2 opened a third level")
	}
	// The broken nested archive was hashed (its first report) and then
	// reported unreadable, and the walk went on to after.txt.
	if g := two["broken.zip"]; !errors.Is(g.err, ErrCorrupt) {
		t.Errorf("broken.zip: %+v, want reported corrupt", g)
	}

	three, _, err := walkAll(t, outer, Limits{MaxDepth: 3})
	if err != nil {
		t.Fatal(err)
	}
	if three["deeper.zip::level2.zip::deep.txt"].sha256 != sum([]byte("deep\n")) {
		t.Errorf("depth 3: %v", keys(three))
	}
}

func TestNestedBombCountsAgainstTheOuterBudget(t *testing.T) {
	outer := zipOf(t, []file{{"bomb.zip", bomb()}}, zip.Store)
	_, _, err := walkAll(t, outer, Limits{MaxDepth: 2, MaxTotalBytes: 8 << 20})
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != "bytes" {
		t.Fatalf("Walk = %v, want the bytes limit", err)
	}
}

func TestWalkPassesFnErrorsAndCancellation(t *testing.T) {
	b := zipOf(t, sample(), zip.Deflate)
	mine := errors.New("mine")
	err := Walk(context.Background(), "x", open(t, b), Limits{}, func(Entry, io.Reader) error { return mine })
	if err != mine {
		t.Errorf("Walk = %v, want fn's error as is", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err = Walk(ctx, "x", open(t, b), Limits{}, func(_ Entry, r io.Reader) error {
		n++
		cancel()
		_, err := io.Copy(io.Discard, r)
		return err
	})
	if !errors.Is(err, context.Canceled) || n != 1 {
		t.Errorf("Walk = %v after %d entries, want context.Canceled after 1", err, n)
	}
}

func TestUnsupportedZipMethod(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.CreateRaw(&zip.FileHeader{Name: "ppmd.txt", Method: 98, CompressedSize64: 4, UncompressedSize64: 4})
	w.Write([]byte("ppmd"))
	w, _ = zw.Create("fine.txt")
	w.Write([]byte("fine"))
	zw.Close()
	entries, _, err := walkAll(t, buf.Bytes(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	g := entries["ppmd.txt"]
	if !errors.Is(g.err, ErrUnsupported) || g.encrypted || g.sha256 != "" {
		t.Errorf("ppmd.txt: %+v", g)
	}
	if g.err != nil && g.err.Error() != "archive test.archive: entry ppmd.txt is not supported: zip: unsupported compression algorithm" {
		t.Errorf("message %q", g.err)
	}
	if entries["fine.txt"].sha256 != sum([]byte("fine")) {
		t.Errorf("the walk did not go on: %+v", entries)
	}
}
