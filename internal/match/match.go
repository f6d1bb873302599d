// Package match decides whether a file name matches a shell pattern or a path
// contains a substring, optionally ignoring case, and derives from either the
// literal text every match must contain, so that a database can narrow the
// candidates before the exact match runs in Go.
package match

import (
	"fmt"
	"path"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Hint is what every match contains: Parts in order; with Prefix the first
// part starts the text, with Suffix the last part ends it. Parts hold only
// ASCII characters that are safe to compare in a database that folds ASCII
// case (and, for a folding matcher, that lower-cases only ASCII): a database
// filter built from a Hint keeps every true match, and maybe others.
type Hint struct {
	Parts          []string
	Prefix, Suffix bool
	// Lower says the Parts are lower case and must be compared with the
	// lower-cased text.
	Lower bool
}

// Matcher is a compiled pattern or substring.
type Matcher struct {
	glob string // normalized pattern for path.Match; "" for a substring
	// path makes / an ordinary character: the text's are swapped for NUL,
	// which no path holds, as the pattern's were.
	path bool
	sub  string
	fold bool
	hint Hint
}

// Glob compiles a shell pattern matched against a whole name: * is any run of
// characters, ? one character, [abc], [a-z] and [^a-z] (or [!a-z]) a class,
// and \ quotes the next character. With fold, pattern and name are compared
// lower-cased (Unicode simple lower case; bytes that are not UTF-8 are kept).
// A malformed pattern is an error.
func Glob(pattern string, fold bool) (*Matcher, error) {
	if fold {
		pattern = Fold(pattern)
	}
	norm, toks, err := tokenize(pattern)
	if err != nil {
		return nil, err
	}
	if _, err := path.Match(norm, ""); err != nil {
		return nil, fmt.Errorf("pattern %q is malformed: %w", pattern, err)
	}
	m := &Matcher{glob: norm, fold: fold}
	m.hint = hintOf(toks, fold)
	return m, nil
}

// PathGlob is Glob for a whole path: * and ? match a / too, as fnmatch does
// without FNM_PATHNAME (and plocate with a pattern).
func PathGlob(pattern string, fold bool) (*Matcher, error) {
	m, err := Glob(pattern, fold)
	if err != nil {
		return nil, err
	}
	m.glob = strings.ReplaceAll(m.glob, "/", "\x00")
	m.path = true
	return m, nil
}

// Substring returns a matcher for texts that contain sub, lower-cased with
// fold as Glob does.
func Substring(sub string, fold bool) *Matcher {
	if fold {
		sub = Fold(sub)
	}
	toks := make([]token, 0, len(sub))
	for i := 0; i < len(sub); {
		r, n := utf8.DecodeRuneInString(sub[i:])
		toks = append(toks, token{lit: sub[i : i+n], safe: n == 1 && r < utf8.RuneSelf})
		i += n
	}
	h := hintOf(toks, fold)
	h.Prefix, h.Suffix = false, false
	return &Matcher{sub: sub, fold: fold, hint: h}
}

// Match reports whether s matches.
func (m *Matcher) Match(s string) bool {
	if m.fold {
		s = Fold(s)
	}
	if m.glob == "" {
		return strings.Contains(s, m.sub)
	}
	if m.path {
		s = strings.ReplaceAll(s, "/", "\x00")
	}
	ok, _ := path.Match(m.glob, s)
	return ok
}

// Hint returns what every match contains.
func (m *Matcher) Hint() Hint { return m.hint }

// Fold lower-cases s rune by rune with unicode.ToLower, keeping bytes that are
// not UTF-8 as they are, so that distinct invalid names stay distinct.
func Fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteByte(s[i])
		} else {
			b.WriteRune(unicode.ToLower(r))
		}
		i += n
	}
	return b.String()
}

// token is one element of a pattern: a literal character (lit, with safe set
// when it is ASCII) or a wildcard (lit empty).
type token struct {
	lit  string
	safe bool
}

// tokenize splits a pattern into tokens and returns it normalized for
// path.Match ([! becomes [^).
func tokenize(p string) (string, []token, error) {
	var norm strings.Builder
	var toks []token
	for i := 0; i < len(p); {
		switch c := p[i]; c {
		case '*', '?':
			toks = append(toks, token{})
			norm.WriteByte(c)
			i++
		case '\\':
			if i+1 >= len(p) {
				return "", nil, fmt.Errorf("pattern %q ends with a lone backslash", p)
			}
			r, n := utf8.DecodeRuneInString(p[i+1:])
			toks = append(toks, token{lit: p[i+1 : i+1+n], safe: n == 1 && r < utf8.RuneSelf})
			norm.WriteString(p[i : i+1+n])
			i += 1 + n
		case '[':
			j := i + 1
			norm.WriteByte('[')
			if j < len(p) && (p[j] == '!' || p[j] == '^') {
				norm.WriteByte('^')
				j++
			}
			// Copy up to the closing bracket; path.Match checks the class itself.
			for j < len(p) && p[j] != ']' {
				if p[j] == '\\' && j+1 < len(p) {
					norm.WriteByte(p[j])
					j++
				}
				norm.WriteByte(p[j])
				j++
			}
			if j >= len(p) {
				return "", nil, fmt.Errorf("pattern %q has an unclosed [", p)
			}
			norm.WriteByte(']')
			toks = append(toks, token{})
			i = j + 1
		default:
			_, n := utf8.DecodeRuneInString(p[i:])
			toks = append(toks, token{lit: p[i : i+n], safe: n == 1 && c < utf8.RuneSelf})
			norm.WriteString(p[i : i+n])
			i += n
		}
	}
	return norm.String(), toks, nil
}

// hintOf builds the hint from tokens. Under fold, an ASCII letter that some
// non-ASCII character lowers to (k from the Kelvin sign, i from İ) is not safe:
// a database that lower-cases only ASCII would not see it.
func hintOf(toks []token, fold bool) Hint {
	h := Hint{Lower: fold}
	safe := func(t token) bool {
		return t.safe && !(fold && foldTargets()[t.lit[0]])
	}
	var run strings.Builder
	for i, t := range toks {
		if safe(t) {
			if i == 0 {
				h.Prefix = true
			}
			run.WriteString(t.lit)
			continue
		}
		if run.Len() > 0 {
			h.Parts = append(h.Parts, run.String())
			run.Reset()
		}
	}
	if run.Len() > 0 {
		h.Parts = append(h.Parts, run.String())
		h.Suffix = true
	}
	if len(toks) == 0 {
		// The empty pattern matches only the empty text.
		h.Prefix, h.Suffix = true, true
	}
	return h
}

// foldTargets are the ASCII bytes that unicode.ToLower yields for some
// non-ASCII rune.
var foldTargets = sync.OnceValue(func() [utf8.RuneSelf]bool {
	var t [utf8.RuneSelf]bool
	for r := rune(utf8.RuneSelf); r <= unicode.MaxRune; r++ {
		if l := unicode.ToLower(r); l < utf8.RuneSelf {
			t[l] = true
		}
	}
	return t
})
