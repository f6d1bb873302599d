package archive

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"time"
)

// rarEntry is one file for rar5Stored.
type rarEntry struct {
	name      string
	data      []byte
	modified  time.Time
	encrypted bool // sets the file's encryption record, with no real encryption
}

// rar5Stored writes a RAR 5.0 archive whose files are stored uncompressed,
// following the published RAR 5.0 format description. No tool here creates
// RAR archives (the format's encoder is not free), so the tests build their
// own; compressed RAR data is beyond a test helper and is not covered.
func rar5Stored(entries []rarEntry) []byte {
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
		b = vint(b, 0x2|0x4) // mtime and CRC32 present
		b = vint(b, uint64(len(e.data)))
		b = vint(b, 0o100644) // attributes: a regular file, rw-r--r--
		b = binary.LittleEndian.AppendUint32(b, uint32(e.modified.Unix()))
		b = binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(e.data))
		b = vint(b, 0) // version 0, not solid, method 0 (store), 128 KiB dictionary
		b = vint(b, 1) // host OS: Unix
		b = vint(b, uint64(len(e.name)))
		b = append(b, e.name...)
		var extra []byte
		if e.encrypted {
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
		data := e.data
		if data == nil {
			data = []byte{}
		}
		block(2, 0, b, extra, data)
	}
	block(5, 0, vint(nil, 0), nil, nil)
	return out.Bytes()
}

func vint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}
