package archive

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"io"
	"testing"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
)

func encode(t *testing.T, enc encoding.Encoding, s string) string {
	t.Helper()
	b, err := enc.NewEncoder().String(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func unicodePathField(legacy, name string) []byte {
	f := []byte{1}
	f = binary.LittleEndian.AppendUint32(f, crc32.ChecksumIEEE([]byte(legacy)))
	f = append(f, name...)
	out := binary.LittleEndian.AppendUint16(nil, unicodePathExtra)
	out = binary.LittleEndian.AppendUint16(out, uint16(len(f)))
	return append(out, f...)
}

func TestDecodeZipName(t *testing.T) {
	cp437 := charmap.CodePage437
	for _, c := range []struct {
		name  string
		raw   string
		flags uint16
		extra []byte
		want  string
	}{
		{"CP437 umlaut", encode(t, cp437, "Müller.txt"), 0, nil, "Müller.txt"},
		{"CP437 accent before ASCII", encode(t, cp437, "María ñandú.doc"), 0, nil, "María ñandú.doc"},
		{"CP437 ñ before a letter", encode(t, cp437, "España Año.txt"), 0, nil, "España Año.txt"},
		{"CP437 sharp s", encode(t, cp437, "Straße.txt"), 0, nil, "Straße.txt"},
		{"GBK", encode(t, simplifiedchinese.GBK, "中文报告（草稿）.txt"), 0, nil, "中文报告（草稿）.txt"},
		{"Big5", encode(t, traditionalchinese.Big5, "繁體中文.txt"), 0, nil, "繁體中文.txt"},
		{"Big5 that GB2312 reads as kana", encode(t, traditionalchinese.Big5, "中文"), 0, nil, "中文"},
		{"UTF-8 without the flag", "naïve – café.txt", 0, nil, "naïve – café.txt"},
		{"UTF-8 flag", "plain.txt", zipUTF8Flag, nil, "plain.txt"},
		{"flag kept even when not UTF-8", "\xff.txt", zipUTF8Flag, nil, "\xff.txt"},
		{"Unicode Path field", encode(t, cp437, "Uber.txt"), 0, unicodePathField(encode(t, cp437, "Uber.txt"), "Über.txt"), "Über.txt"},
		{"stale Unicode Path field", encode(t, cp437, "Müller.txt"), 0, unicodePathField("other", "Wrong.txt"), "Müller.txt"},
		{"odd extra field", encode(t, cp437, "Müller.txt"), 0, []byte{0x75, 0x70, 0xff, 0xff, 1}, "Müller.txt"},
		{"ASCII", "../evil", 0, nil, "../evil"},
	} {
		if got := DecodeZipName(c.raw, c.flags, c.extra); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// TestWalkDecodesLegacyZipNames goes through a real zip: archive/zip writes
// the name bytes as given, without the UTF-8 flag, when NonUTF8 is set.
func TestWalkDecodesLegacyZipNames(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range []string{encode(t, charmap.CodePage437, "Übersicht.txt"), encode(t, simplifiedchinese.GBK, "文件.txt")} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: n, NonUTF8: true, Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("x"))
	}
	zw.Close()
	var names []string
	err := Walk(context.Background(), "x", open(t, buf.Bytes()), Limits{}, func(e Entry, r io.Reader) error {
		names = append(names, e.Name)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 2 || names[0] != "Übersicht.txt" || names[1] != "文件.txt" {
		t.Errorf("names %q", names)
	}
}
