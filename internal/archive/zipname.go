package archive

import (
	"encoding/binary"
	"hash/crc32"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
)

// zipUTF8Flag is general-purpose bit 11: the name is UTF-8.
const zipUTF8Flag = 0x800

// unicodePathExtra is Info-ZIP's Unicode Path extra field, which 7-Zip and
// Info-ZIP write beside a legacy-encoded name.
const unicodePathExtra = 0x7075

// DecodeZipName returns a zip entry's name as UTF-8 text. raw is the name's
// bytes as stored, flags the general-purpose bits and extra the extra fields
// of its central directory header. In order:
//   - a name flagged UTF-8 is kept as it is;
//   - an Info-ZIP Unicode Path field whose checksum matches raw wins;
//   - a name that is valid UTF-8 is kept (many tools write UTF-8 without
//     setting the flag);
//   - a name whose every non-ASCII pair is a GB2312 ideograph or CJK
//     punctuation is read as GBK, and failing that one whose pairs are Big5
//     ideographs, two of them in a row at least, as Big5 (the two are told
//     apart by their byte ranges: GB2312 trail bytes are never below 0xA1,
//     and Big5's common ideographs start at 0xA440, where GB2312 has kana;
//     the run of two keeps "Espa\xa4a", CP437 for "España", from reading as
//     Big5, whose trail bytes may be ASCII letters);
//   - anything else is CP437, the encoding the zip specification names.
//
// The decoding can only choose a reading; it never fails. It can choose
// wrong where the encodings overlap: a CP437 name made only of pairs of
// box-drawing or Greek characters (bytes 0xA1 and up) reads as GBK.
func DecodeZipName(raw string, flags uint16, extra []byte) string {
	if flags&zipUTF8Flag != 0 {
		return raw
	}
	if name, ok := unicodePath(raw, extra); ok {
		return name
	}
	if utf8.ValidString(raw) {
		return raw
	}
	if s, ok := decodeCJK(raw, simplifiedchinese.GBK, gb2312Pair, 1); ok {
		return s
	}
	if s, ok := decodeCJK(raw, traditionalchinese.Big5, big5Pair, 2); ok {
		return s
	}
	s, err := charmap.CodePage437.NewDecoder().String(raw)
	if err != nil {
		return raw // cannot happen: every byte is a CP437 character
	}
	return s
}

// unicodePath finds a valid Info-ZIP Unicode Path field for raw in extra.
func unicodePath(raw string, extra []byte) (string, bool) {
	for len(extra) >= 4 {
		id := binary.LittleEndian.Uint16(extra)
		size := int(binary.LittleEndian.Uint16(extra[2:]))
		extra = extra[4:]
		if size > len(extra) {
			return "", false
		}
		field := extra[:size]
		extra = extra[size:]
		// version 1, CRC-32 of the legacy name, then the UTF-8 name.
		if id != unicodePathExtra || len(field) < 5 || field[0] != 1 {
			continue
		}
		if binary.LittleEndian.Uint32(field[1:]) != crc32.ChecksumIEEE([]byte(raw)) {
			continue // the legacy name was changed after the field was written
		}
		if name := string(field[5:]); utf8.ValidString(name) {
			return name, true
		}
	}
	return "", false
}

// gb2312Pair: both bytes in 0xA1–0xFE, the GB2312 area of GBK. GBK's
// extension area (lead bytes from 0x81) is left out on purpose: it takes
// ASCII trail bytes, so CP437 names such as "M\x81ller" would pass for it.
func gb2312Pair(lead, trail byte) bool {
	return lead >= 0xA1 && lead <= 0xF7 && trail >= 0xA1 && trail <= 0xFE
}

// big5Pair: lead 0xA4–0xF9 (ideographs; 0xA1–0xA3 are symbols that CP437
// accented letters followed by ASCII would imitate), trail 0x40–0x7E or
// 0xA1–0xFE.
func big5Pair(lead, trail byte) bool {
	return lead >= 0xA4 && lead <= 0xF9 && (trail >= 0x40 && trail <= 0x7E || trail >= 0xA1 && trail <= 0xFE)
}

// decodeCJK decodes raw with enc when every non-ASCII byte is part of a pair
// that pairOK accepts, every non-ASCII character decoded is an ideograph or
// CJK punctuation, and minRun of them at least stand in a row.
func decodeCJK(raw string, enc encoding.Encoding, pairOK func(lead, trail byte) bool, minRun int) (string, bool) {
	pairs := 0
	for i := 0; i < len(raw); i++ {
		if raw[i] < 0x80 {
			continue
		}
		if i+1 >= len(raw) || !pairOK(raw[i], raw[i+1]) {
			return "", false
		}
		i++
		pairs++
	}
	if pairs == 0 {
		return "", false
	}
	s, err := enc.NewDecoder().String(raw)
	if err != nil {
		return "", false
	}
	run, longest := 0, 0
	for _, r := range s {
		if r < 0x80 {
			run = 0
			continue
		}
		if !unicode.Is(unicode.Han, r) && !(r >= 0x3000 && r <= 0x303F) && !(r >= 0xFF00 && r <= 0xFFEF) {
			return "", false
		}
		run++
		longest = max(longest, run)
	}
	return s, longest >= minRun
}
