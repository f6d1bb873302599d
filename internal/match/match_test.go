package match

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern string
		fold    bool
		name    string
		want    bool
	}{
		{"*.jpg", false, "a.jpg", true},
		{"*.jpg", false, "a.JPG", false},
		{"*.jpg", true, "a.JPG", true},
		{"*.JPG", true, "a.jpg", true},
		{"IMG_????.jpg", false, "IMG_0042.jpg", true},
		{"IMG_????.jpg", false, "IMG_042.jpg", false},
		{"IMG_????.jpg", false, "IMGx0042.jpg", false},
		{"100%*", false, "100% done", true},
		{"100%*", false, "1000 done", false},
		{"a_b", false, "a_b", true},
		{"a_b", false, "axb", false},
		{`a\*b`, false, "a*b", true},
		{`a\*b`, false, "axb", false},
		{`a\\b`, false, `a\b`, true},
		{"[abc]x", false, "bx", true},
		{"[!abc]x", false, "bx", false},
		{"[!abc]x", false, "dx", true},
		{"[^abc]x", false, "dx", true},
		{"[a-c]*", false, "cat", true},
		{"[a-c]*", false, "dog", false},
		{"*", false, "", true},
		{"?", false, "é", true},
		{"?", false, "\xff", true},
		{"?", false, "ab", false},
		{"*é*", false, "caf\xc3\xa9", true},
		{"*É*", true, "café", true},
		{"*é*", false, "cafÉ", false},
		{"*k*", true, "\u212a", true}, // Kelvin sign lowers to k
		{"*\xff*", false, "a\xffb", true},
		{"*\xff*", true, "A\xffB", true},
		{"*\xfe*", true, "a\xffb", false},
		{"a*b*c", false, "a-b-c", true},
		{"a*b*c", false, "a-c-b", false},
		{"tab\t*", false, "tab\tx", true},
		{"*\n*", false, "new\nline", true},
	}
	for _, tt := range tests {
		m, err := Glob(tt.pattern, tt.fold)
		if err != nil {
			t.Errorf("Glob(%q): %v", tt.pattern, err)
			continue
		}
		if got := m.Match(tt.name); got != tt.want {
			t.Errorf("Glob(%q, fold=%v).Match(%q) = %v, want %v", tt.pattern, tt.fold, tt.name, got, tt.want)
		}
		if tt.want && !likeASCII(m.Hint(), tt.name) {
			t.Errorf("hint %+v of %q rejects its match %q", m.Hint(), tt.pattern, tt.name)
		}
	}
}

func TestGlobBad(t *testing.T) {
	for _, p := range []string{"[", "a[b", `a\`, "[a-", "[]"} {
		if _, err := Glob(p, false); err == nil {
			t.Errorf("Glob(%q): want an error", p)
		}
	}
}

func TestHint(t *testing.T) {
	tests := []struct {
		pattern string
		fold    bool
		want    Hint
	}{
		{"*.jpg", false, Hint{Parts: []string{".jpg"}, Suffix: true}},
		{"IMG_*", false, Hint{Parts: []string{"IMG_"}, Prefix: true}},
		{"a?b", false, Hint{Parts: []string{"a", "b"}, Prefix: true, Suffix: true}},
		{"*", false, Hint{}},
		{"caf*é", false, Hint{Parts: []string{"caf"}, Prefix: true}},
		{"*.KML", true, Hint{Parts: []string{".", "ml"}, Suffix: true, Lower: true}}, // k has a non-ASCII preimage
		{"exact", false, Hint{Parts: []string{"exact"}, Prefix: true, Suffix: true}},
	}
	for _, tt := range tests {
		m, err := Glob(tt.pattern, tt.fold)
		if err != nil {
			t.Fatal(err)
		}
		got := m.Hint()
		if strings.Join(got.Parts, "|") != strings.Join(tt.want.Parts, "|") || got.Prefix != tt.want.Prefix ||
			got.Suffix != tt.want.Suffix || got.Lower != tt.want.Lower {
			t.Errorf("Glob(%q, %v).Hint() = %+v, want %+v", tt.pattern, tt.fold, got, tt.want)
		}
	}
}

func TestSubstring(t *testing.T) {
	tests := []struct {
		sub, s string
		fold   bool
		want   bool
	}{
		{"photos/20", "/home/a/photos/2019/x.jpg", false, true},
		{"Photos", "/home/a/photos/x", false, false},
		{"Photos", "/home/a/photos/x", true, true},
		{"%", "/a/100%/b", false, true},
		{"_", "/a/b", false, false},
		{"é", "/café", false, true},
		{"\n", "/a\nb", false, true},
	}
	for _, tt := range tests {
		m := Substring(tt.sub, tt.fold)
		if got := m.Match(tt.s); got != tt.want {
			t.Errorf("Substring(%q, %v).Match(%q) = %v, want %v", tt.sub, tt.fold, tt.s, got, tt.want)
		}
		if tt.want && !likeASCII(m.Hint(), tt.s) {
			t.Errorf("hint %+v of %q rejects its match %q", m.Hint(), tt.sub, tt.s)
		}
	}
}

// TestHintNeverRejectsAMatch checks on random names and patterns that a filter
// built from the hint, as a database that folds ASCII case applies it, keeps
// every name the matcher accepts.
func TestHintNeverRejectsAMatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	alphabet := []string{"a", "A", "b", "k", "K", "\u212a", "i", "\u0130", "é", "É", "\xff", "%", "_", ".", "\\", "x"}
	pat := []string{"*", "?", "[ab]", "[!a]", "a", "b", "k", "K", "é", "%", "_", ".", `\*`, `\\`, "i"}
	n := 0
	for range 20000 {
		var name, p strings.Builder
		for range rng.IntN(6) {
			name.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		for range 1 + rng.IntN(4) {
			p.WriteString(pat[rng.IntN(len(pat))])
		}
		fold := rng.IntN(2) == 0
		m, err := Glob(p.String(), fold)
		if err != nil {
			t.Fatalf("Glob(%q): %v", p.String(), err)
		}
		if m.Match(name.String()) {
			n++
			if !likeASCII(m.Hint(), name.String()) {
				t.Fatalf("hint %+v of %q (fold %v) rejects its match %q", m.Hint(), p.String(), fold, name.String())
			}
		}
	}
	if n < 500 {
		t.Fatalf("only %d random matches; the test proves little", n)
	}
}

// likeASCII applies h the way SQLite's LIKE does: bytewise, ASCII
// case-insensitive.
func likeASCII(h Hint, s string) bool {
	s = asciiLower(s)
	if len(h.Parts) == 1 && h.Prefix && h.Suffix {
		return s == asciiLower(h.Parts[0])
	}
	for i, p := range h.Parts {
		p = asciiLower(p)
		switch {
		case i == 0 && h.Prefix:
			if !strings.HasPrefix(s, p) {
				return false
			}
			s = s[len(p):]
		case i == len(h.Parts)-1 && h.Suffix:
			return strings.HasSuffix(s, p)
		default:
			j := strings.Index(s, p)
			if j < 0 {
				return false
			}
			s = s[j+len(p):]
		}
	}
	if len(h.Parts) == 0 && h.Prefix && h.Suffix {
		return s == ""
	}
	return true
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func TestPathGlob(t *testing.T) {
	tests := []struct {
		pattern, path string
		fold, want    bool
	}{
		{"*/b/*.jpg", "/x/b/c/d.jpg", false, true},
		{"/x/*", "/x/b/c", false, true},
		{"/x/?/c", "/x/b/c", false, true},
		{"/x?b", "/x/b", false, true},
		{"*/B/*", "/x/b/c", true, true},
		{"*/B/*", "/x/b/c", false, false},
		{"/y/*", "/x/b", false, false},
	}
	for _, tt := range tests {
		m, err := PathGlob(tt.pattern, tt.fold)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Match(tt.path); got != tt.want {
			t.Errorf("PathGlob(%q, %v).Match(%q) = %v, want %v", tt.pattern, tt.fold, tt.path, got, tt.want)
		}
	}
}
