// Package numfmt writes counts for people, in the one style of every text
// output: thousands separators (1,234,567) and nouns that agree with their
// count (1 file, 2 files, 1 entry, 2 entries).
package numfmt

import (
	"strconv"
	"strings"
)

// Thousands writes n with comma separators: 1,234,567.
func Thousands(n int64) string { return string(AppendThousands(nil, n)) }

// AppendThousands appends n with comma separators to b, as Thousands writes
// it: a listing formats its numbers into one buffer instead of a string each.
func AppendThousands(b []byte, n int64) []byte {
	var digits [20]byte
	d := strconv.AppendInt(digits[:0], n, 10)
	if d[0] == '-' {
		b = append(b, '-')
		d = d[1:]
	}
	for i, c := range d {
		if i > 0 && (len(d)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, c)
	}
	return b
}

// Plural writes n, with thousands separators, and noun agreeing with it:
// "1 file" or "2 files", "1 entry" or "2 entries", "1 hash" or "2 hashes".
// Of a noun of several words the last one takes the plural ("2 archive
// entries").
func Plural(n int64, noun string) string { return string(AppendPlural(nil, n, noun)) }

// AppendPlural appends what Plural writes to b.
func AppendPlural(b []byte, n int64, noun string) []byte {
	b = AppendThousands(b, n)
	b = append(b, ' ')
	if n == 1 {
		return append(b, noun...)
	}
	switch {
	case strings.HasSuffix(noun, "y") && !strings.HasSuffix(noun, "ey"):
		b = append(b, noun[:len(noun)-1]...)
		return append(b, "ies"...)
	case strings.HasSuffix(noun, "s") || strings.HasSuffix(noun, "x") || strings.HasSuffix(noun, "ch") || strings.HasSuffix(noun, "sh"):
		b = append(b, noun...)
		return append(b, "es"...)
	}
	b = append(b, noun...)
	return append(b, 's')
}
