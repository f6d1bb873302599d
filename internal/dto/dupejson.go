package dto

import (
	"encoding/base64"
	"strconv"
	"unicode/utf8"
)

// MarshalJSON writes the group by hand: dupes prints hundreds of thousands of
// groups, and reflection cost more than the query. The output is what
// encoding/json would write for the documented shape (a test holds the two
// together): sha256, size, count, copies, reclaimable, files; each file with
// machine, path, then archive_path, linked, modified, path_b64 and
// archive_path_b64 when set.
func (g DupeGroup) MarshalJSON() ([]byte, error) {
	return g.AppendJSON(make([]byte, 0, 128+len(g.Files)*96)), nil
}

// AppendJSON appends the group's JSON to b.
func (g DupeGroup) AppendJSON(b []byte) []byte {
	b = append(b, `{"sha256":`...)
	b = appendString(b, g.SHA256)
	b = append(b, `,"size":`...)
	b = strconv.AppendInt(b, g.Size, 10)
	b = append(b, `,"count":`...)
	b = strconv.AppendInt(b, int64(g.Count), 10)
	b = append(b, `,"copies":`...)
	b = strconv.AppendInt(b, int64(g.Copies), 10)
	b = append(b, `,"reclaimable":`...)
	b = strconv.AppendInt(b, g.Reclaimable, 10)
	if g.Files == nil {
		return append(b, `,"files":null}`...)
	}
	b = append(b, `,"files":[`...)
	for i, f := range g.Files {
		if i > 0 {
			b = append(b, ',')
		}
		b = f.appendJSON(b)
	}
	return append(b, "]}"...)
}

// MarshalJSON adds "path_b64" and "archive_path_b64" where the path is not
// valid UTF-8 (see PathB64).
func (f DupeFile) MarshalJSON() ([]byte, error) { return f.appendJSON(nil), nil }

func (f DupeFile) appendJSON(b []byte) []byte {
	b = append(b, `{"machine":`...)
	b, _ = appendStringValid(b, f.Machine)
	b = append(b, `,"path":`...)
	b, pathValid := appendStringValid(b, f.Path)
	archiveValid := true
	if f.ArchivePath != "" {
		b = append(b, `,"archive_path":`...)
		b, archiveValid = appendStringValid(b, f.ArchivePath)
	}
	if f.Linked {
		b = append(b, `,"linked":true`...)
	}
	if !f.Modified.IsZero() {
		b = append(b, `,"modified":`...)
		b = appendString(b, JSONTime(f.Modified))
	}
	// appendStringValid has seen whether each path is UTF-8: PathB64 is
	// "" exactly when it is, and is called only when it is not.
	if !pathValid {
		b = append(b, `,"path_b64":"`...)
		b = base64.StdEncoding.AppendEncode(b, []byte(f.Path))
		b = append(b, '"')
	}
	if !archiveValid {
		b = append(b, `,"archive_path_b64":"`...)
		b = base64.StdEncoding.AppendEncode(b, []byte(f.ArchivePath))
		b = append(b, '"')
	}
	if v := f.Volume; v != nil {
		b = append(b, `,"volume":{"uuid":`...)
		b = appendString(b, v.UUID)
		b = append(b, `,"label":`...)
		b = appendString(b, v.Label)
		b = append(b, `,"mounted":`...)
		b = strconv.AppendBool(b, v.Mounted)
		if v.MountPoint != "" {
			b = append(b, `,"mount_point":`...)
			b = appendString(b, v.MountPoint)
		}
		if v.AbsPath != "" {
			b = append(b, `,"abs_path":`...)
			b = appendString(b, v.AbsPath)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

// jsonSafe tells the ASCII bytes encoding/json writes as they are, HTML
// escaping on: printable, and none of " \ < > &.
var jsonSafe = [utf8.RuneSelf]bool{}

func init() {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		jsonSafe[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string exactly as encoding/json writes it
// by default: ", \ and control characters escaped, <, > and & escaped for
// HTML, U+2028 and U+2029 escaped, and each byte that is not UTF-8 replaced
// by \ufffd.
func appendString(b []byte, s string) []byte {
	b, _ = appendStringValid(b, s)
	return b
}

// appendStringValid is appendString, and reports whether s was valid UTF-8.
func appendStringValid(b []byte, s string) ([]byte, bool) {
	valid := true
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			valid = false
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += n
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += n
			start = i
			continue
		}
		i += n
	}
	b = append(b, s[start:]...)
	return append(b, '"'), valid
}
