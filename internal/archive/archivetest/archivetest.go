// Package archivetest builds archives in memory for tests: zip and tar with
// the standard library, compressed tars with the compressors that
// mholt/archives brings, and stored RAR 5 archives with a small writer of its
// own. It is imported by tests only.
package archivetest

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"
	"time"

	"github.com/mholt/archives"
)

// Mod is the modification time of every entry written here.
var Mod = time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)

// File is an entry to pack.
type File struct {
	Name string
	Data []byte
}

// Zip packs files with method (zip.Store or zip.Deflate), after a "dir/"
// directory entry, which is not a regular entry.
func Zip(tb testing.TB, files []File, method uint16) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	if _, err := zw.CreateHeader(&zip.FileHeader{Name: "dir/", Modified: Mod}); err != nil {
		tb.Fatal(err)
	}
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: method, Modified: Mod})
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := w.Write(f.Data); err != nil {
			tb.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// Tar packs files after a directory, a symlink and a hard link, none of
// which is a regular entry.
func Tar(tb testing.TB, files []File) []byte {
	tb.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdrs := []*tar.Header{
		{Name: "dir/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: Mod},
		{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "a.txt", ModTime: Mod},
		{Name: "hard", Typeflag: tar.TypeLink, Linkname: "a.txt", ModTime: Mod},
	}
	for _, h := range hdrs {
		if err := tw.WriteHeader(h); err != nil {
			tb.Fatal(err)
		}
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.Name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(f.Data)), ModTime: Mod}); err != nil {
			tb.Fatal(err)
		}
		if _, err := tw.Write(f.Data); err != nil {
			tb.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// Compress compresses b with c (archives.Gz{}, archives.Zstd{}, ...).
func Compress(tb testing.TB, c archives.Compressor, b []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w, err := c.OpenWriter(&buf)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// RarEntry is one file for Rar5.
type RarEntry struct {
	Name      string
	Data      []byte
	Modified  time.Time // zero: the entry records no time
	Encrypted bool      // adds a file encryption record; the data stays clear
}

// Rar packs files, stored, as Rar5 does.
func Rar(files []File) []byte {
	var es []RarEntry
	for _, f := range files {
		es = append(es, RarEntry{Name: f.Name, Data: f.Data, Modified: Mod})
	}
	return Rar5(es)
}

// Rar5 writes a RAR 5.0 archive whose files are stored uncompressed,
// following the published RAR 5.0 format description. No tool here creates
// RAR archives (the format's encoder is not free), so the tests build their
// own; compressed RAR data is beyond a test helper and is not covered.
func Rar5(entries []RarEntry) []byte {
	var out bytes.Buffer
	out.WriteString("Rar!\x1a\x07\x01\x00")
	block := func(typ, flags uint64, body, extra, data []byte) {
		var h []byte
		h = vint(h, typ)
		if len(extra) > 0 {
			flags |= 0x1
		}
		if data != nil {
			flags |= 0x2
		}
		h = vint(h, flags)
		if len(extra) > 0 {
			h = vint(h, uint64(len(extra)))
		}
		if data != nil {
			h = vint(h, uint64(len(data)))
		}
		h = append(h, body...)
		h = append(h, extra...)
		sized := vint(nil, uint64(len(h)))
		sized = append(sized, h...)
		var crc [4]byte
		binary.LittleEndian.PutUint32(crc[:], crc32.ChecksumIEEE(sized))
		out.Write(crc[:])
		out.Write(sized)
		out.Write(data)
	}
	block(1, 0, vint(nil, 0), nil, nil) // main header, no archive flags
	for _, e := range entries {
		var b []byte
		flags := uint64(0x4) // CRC32 present
		if !e.Modified.IsZero() {
			flags |= 0x2 // mtime present
		}
		b = vint(b, flags)
		b = vint(b, uint64(len(e.Data)))
		b = vint(b, 0o100644) // attributes: a regular file, rw-r--r--
		if !e.Modified.IsZero() {
			b = binary.LittleEndian.AppendUint32(b, uint32(e.Modified.Unix()))
		}
		b = binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(e.Data))
		b = vint(b, 0) // version 0, not solid, method 0 (store), 128 KiB dictionary
		b = vint(b, 1) // host OS: Unix
		b = vint(b, uint64(len(e.Name)))
		b = append(b, e.Name...)
		var extra []byte
		if e.Encrypted {
			// File encryption record: type 1, version 0, flags 0, KDF count
			// 15, 16-byte salt, 16-byte IV.
			rec := vint(nil, 1)
			rec = vint(rec, 0)
			rec = vint(rec, 0)
			rec = append(rec, 15)
			rec = append(rec, make([]byte, 32)...)
			extra = vint(extra, uint64(len(rec)))
			extra = append(extra, rec...)
		}
		data := e.Data
		if data == nil {
			data = []byte{}
		}
		block(2, 0, b, extra, data)
	}
	block(5, 0, vint(nil, 0), nil, nil)
	return out.Bytes()
}

// vint is RAR 5's variable-length integer: 7 bits a byte, low first.
func vint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}
