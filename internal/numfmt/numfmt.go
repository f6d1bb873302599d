// Package numfmt writes counts for people, in the one style of every text
// output: thousands separators (1,234,567) and nouns that agree with their
// count (1 file, 2 files, 1 entry, 2 entries).
package numfmt

import (
	"strconv"
	"strings"
)

// Thousands writes n with comma separators: 1,234,567.
func Thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Plural writes n, with thousands separators, and noun agreeing with it:
// "1 file" or "2 files", "1 entry" or "2 entries", "1 hash" or "2 hashes".
// Of a noun of several words the last one takes the plural ("2 archive
// entries").
func Plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	switch {
	case strings.HasSuffix(noun, "y") && !strings.HasSuffix(noun, "ey"):
		noun = strings.TrimSuffix(noun, "y") + "ies"
	case strings.HasSuffix(noun, "s") || strings.HasSuffix(noun, "x") || strings.HasSuffix(noun, "ch") || strings.HasSuffix(noun, "sh"):
		noun += "es"
	default:
		noun += "s"
	}
	return Thousands(n) + " " + noun
}
