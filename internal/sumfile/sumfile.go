package sumfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Entry is one file a checksum file names. Digests are lower-case hex, ""
// where the file gives none; Size is -1 where it gives none (the *sum
// formats never do).
type Entry struct {
	Name   string
	Size   int64
	MD5    string
	SHA1   string
	SHA256 string
}

// Format names a checksum file's layout.
type Format string

// The formats Read tells apart.
const (
	FormatSum      Format = "sum" // md5sum, sha1sum or sha256sum lines
	FormatHashdeep Format = "hashdeep"
)

// sumEscaper escapes a name as coreutils 9 does: a backslash, a line feed
// and a carriage return become \\, \n and \r, and the line then starts with
// a backslash.
var sumEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\r", `\r`)

// WriteSum writes one line of md5sum/sha1sum/sha256sum output ("text" mode,
// two spaces) for a file name and its digest in hex, escaped as coreutils
// escapes it so that `sha256sum -c` reads back the exact name.
func WriteSum(w io.Writer, digest, name string) error {
	var err error
	if strings.ContainsAny(name, "\\\n\r") {
		_, err = fmt.Fprintf(w, "\\%s  %s\n", digest, sumEscaper.Replace(name))
	} else {
		_, err = fmt.Fprintf(w, "%s  %s\n", digest, name)
	}
	return err
}

// HashdeepColumns are the columns this package writes, in hashdeep's order.
var HashdeepColumns = []string{"size", "md5", "sha1", "sha256", "filename"}

// WriteHashdeepHeader writes the header of a hashdeep file with
// HashdeepColumns; invokedFrom and command fill its two comment lines.
func WriteHashdeepHeader(w io.Writer, invokedFrom, command string) error {
	_, err := fmt.Fprintf(w, "%%%%%%%% HASHDEEP-1.0\n%%%%%%%% %s\n## Invoked from: %s\n## $ %s\n##\n",
		strings.Join(HashdeepColumns, ","), invokedFrom, command)
	return err
}

// ErrUnrepresentable is returned by WriteHashdeep for a name hashdeep cannot
// read back: one holding a line feed, or ending with a carriage return.
var ErrUnrepresentable = errors.New("hashdeep files cannot hold a name with a line break")

// WriteHashdeep writes one line of a hashdeep file with HashdeepColumns.
// Hashdeep has no escapes: a name it cannot read back is ErrUnrepresentable,
// and nothing is written.
func WriteHashdeep(w io.Writer, e Entry) error {
	if strings.Contains(e.Name, "\n") || strings.HasSuffix(e.Name, "\r") {
		return ErrUnrepresentable
	}
	_, err := fmt.Fprintf(w, "%d,%s,%s,%s,%s\n", e.Size, e.MD5, e.SHA1, e.SHA256, e.Name)
	return err
}

// SyntaxError is a line Read cannot understand.
type SyntaxError struct {
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// Read reads a checksum file, telling its format from its first line: a
// hashdeep file starts with "%%%% HASHDEEP-1.0", anything else is read as
// GNU *sum lines (md5, sha1 or sha256, told apart by the digest's length,
// in text or binary mode, escaped or not). It calls fn for each entry, in
// file order, and returns the format. A malformed line is a *SyntaxError.
func Read(r io.Reader, fn func(Entry) error) (Format, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	first, err := br.Peek(len(hashdeepMagic))
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return "", err
	}
	if string(first) == hashdeepMagic {
		return FormatHashdeep, readHashdeep(br, fn)
	}
	return FormatSum, readSums(br, fn)
}

const hashdeepMagic = "%%%% HASHDEEP-1.0"

// lines calls fn with each line of br without its line feed, and its number.
func lines(br *bufio.Reader, fn func(n int, line string) error) error {
	for n := 1; ; n++ {
		line, err := br.ReadString('\n')
		if line == "" && errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if err := fn(n, strings.TrimSuffix(line, "\n")); err != nil {
			return err
		}
		if err != nil {
			return nil
		}
	}
}

func readSums(br *bufio.Reader, fn func(Entry) error) error {
	return lines(br, func(n int, line string) error {
		escaped := strings.HasPrefix(line, `\`)
		if escaped {
			line = line[1:]
		}
		digest, name, ok := strings.Cut(line, " ")
		if !ok || name == "" || (name[0] != ' ' && name[0] != '*') || len(name) < 2 {
			return &SyntaxError{n, "is not a digest, two spaces (or a space and *) and a file name"}
		}
		name = name[1:]
		if escaped {
			var err error
			if name, err = unescape(name); err != nil {
				return &SyntaxError{n, err.Error()}
			}
		}
		digest = strings.ToLower(digest)
		if !isHex(digest) {
			return &SyntaxError{n, fmt.Sprintf("digest %q is not hexadecimal", digest)}
		}
		e := Entry{Name: name, Size: -1}
		switch len(digest) {
		case 32:
			e.MD5 = digest
		case 40:
			e.SHA1 = digest
		case 64:
			e.SHA256 = digest
		default:
			return &SyntaxError{n, fmt.Sprintf("digest %q has %d hex digits; md5 has 32, sha1 40, sha256 64", digest, len(digest))}
		}
		return fn(e)
	})
}

// unescape undoes sumEscaper; coreutils knows no other escape.
func unescape(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			return "", errors.New("the file name ends with a lone backslash")
		}
		i++
		switch s[i] {
		case '\\':
			b.WriteByte('\\')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		default:
			return "", fmt.Errorf("the file name holds the unknown escape \\%c", s[i])
		}
	}
	return b.String(), nil
}

func readHashdeep(br *bufio.Reader, fn func(Entry) error) error {
	var cols []string
	return lines(br, func(n int, line string) error {
		switch {
		case n == 1:
			return nil // the magic, checked by Read
		case strings.HasPrefix(line, "%%%% "):
			cols = strings.Split(strings.TrimPrefix(line, "%%%% "), ",")
			if cols[len(cols)-1] != "filename" {
				return &SyntaxError{n, "the column list does not end with filename"}
			}
			return nil
		case strings.HasPrefix(line, "#") || line == "":
			return nil
		case cols == nil:
			return &SyntaxError{n, "comes before the %%%% line naming the columns"}
		}
		fields := strings.SplitN(line, ",", len(cols))
		if len(fields) != len(cols) {
			return &SyntaxError{n, fmt.Sprintf("has %d fields, not the %d of the header", len(fields), len(cols))}
		}
		e := Entry{Size: -1}
		for i, c := range cols {
			v := fields[i]
			switch c {
			case "filename":
				e.Name = v
			case "size":
				s, err := strconv.ParseInt(v, 10, 64)
				if err != nil || s < 0 {
					return &SyntaxError{n, fmt.Sprintf("size %q is not a number of bytes", v)}
				}
				e.Size = s
			case "md5", "sha1", "sha256":
				v = strings.ToLower(v)
				want := map[string]int{"md5": 32, "sha1": 40, "sha256": 64}[c]
				if len(v) != want || !isHex(v) {
					return &SyntaxError{n, fmt.Sprintf("%s %q is not %d hex digits", c, v, want)}
				}
				switch c {
				case "md5":
					e.MD5 = v
				case "sha1":
					e.SHA1 = v
				default:
					e.SHA256 = v
				}
			}
			// Other digests (tiger, whirlpool) are read past.
		}
		if e.Name == "" {
			return &SyntaxError{n, "has an empty file name"}
		}
		return fn(e)
	})
}

func isHex(s string) bool {
	return s != "" && strings.Trim(s, "0123456789abcdef") == ""
}
