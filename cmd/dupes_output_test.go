package cmd

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/indexer/indexer/internal/bytesize"
	"github.com/indexer/indexer/internal/dto"
)

// The text and fdupes formats of dupes as they were written with fmt, a
// string per number and per path, and a map per group: the buffered
// writers must print the same bytes.

func refDisplayPath(p string) string {
	quote := strings.HasPrefix(p, `"`) || !utf8.ValidString(p)
	for _, r := range p {
		quote = quote || !strconv.IsPrint(r)
	}
	if quote {
		return strconv.Quote(p)
	}
	return p
}

func refLinkSets(fs []dto.DupeFile) ([]int, int) {
	type key struct {
		machine       string
		device, inode uint64
	}
	out := make([]int, len(fs))
	ids := map[key]int{}
	for i, f := range fs {
		if !f.Linked {
			continue
		}
		k := key{f.Machine, f.Device, f.Inode}
		if ids[k] == 0 {
			ids[k] = len(ids) + 1
		}
		out[i] = ids[k]
	}
	return out, len(ids)
}

func refText(w *bytes.Buffer, g dto.DupeGroup, multi bool) {
	fmt.Fprintf(w, "%s of %s (%s), %s reclaimable, sha256 %s\n",
		plural(int64(g.Count), "file"), bytesize.Format(g.Size), plural(g.Size, "byte"), bytesize.Format(g.Reclaimable), g.SHA256[:min(16, len(g.SHA256))])
	sets, n := refLinkSets(g.Files)
	for i, f := range g.Files {
		p := f.Path
		if f.ArchivePath != "" {
			p += "::" + f.ArchivePath
		}
		s := refDisplayPath(p)
		if multi {
			s = f.Machine + ":" + s
		}
		w.WriteString("  " + s)
		switch {
		case sets[i] > 0 && n > 1:
			fmt.Fprintf(w, "  [linked %d]", sets[i])
		case sets[i] > 0:
			w.WriteString("  [linked]")
		}
		w.WriteByte('\n')
	}
	w.WriteString("\n")
}

func refFdupes(w *bytes.Buffer, g dto.DupeGroup, sep byte) {
	sets, _ := refLinkSets(g.Files)
	printed := map[int]bool{}
	for i, f := range g.Files {
		if sets[i] > 0 {
			if printed[sets[i]] {
				continue
			}
			printed[sets[i]] = true
		}
		p := f.Path
		if f.ArchivePath != "" {
			p += "::" + f.ArchivePath
		}
		w.WriteString(p)
		w.WriteByte(sep)
	}
	w.WriteByte(sep)
}

// randomGroups makes groups with every kind of path the formats treat apart
// (printable ASCII, other UTF-8, control characters, invalid bytes, a
// leading quote), archive entries, hard links in one or several sets, and
// sizes and counts across the units and the thousands.
func randomGroups(rng *rand.Rand, n int) []dto.DupeGroup {
	pieces := []string{"a", "/", " ", "~", "é", "日本", "\n", "\r", ",", "\t", "\x00", "\x1f", "\x7f", `"`, `\`, ".", "\u2028", "\u0085",
		"\u00a0", "\xff", "\xc3", "\xe2\x80", "\U0001F600", "%", "::", "z9"}
	str := func() string {
		var b strings.Builder
		for range rng.IntN(7) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		return b.String()
	}
	sizes := []int64{0, 1, 999, 1000, 1023, 1024, 1536, 1 << 20, 123456789, 1 << 40, 1<<62 + 12345}
	var gs []dto.DupeGroup
	for range n {
		g := dto.DupeGroup{SHA256: strings.Repeat("ab", rng.IntN(40)), Size: sizes[rng.IntN(len(sizes))],
			Count: rng.IntN(3000), Copies: rng.IntN(5), Reclaimable: sizes[rng.IntN(len(sizes))]}
		for range rng.IntN(6) {
			f := dto.DupeFile{Machine: []string{"m1", "nas", "é"}[rng.IntN(3)], Path: str(),
				Linked: rng.IntN(3) == 0, Device: uint64(rng.IntN(2)), Inode: uint64(rng.IntN(3))}
			if rng.IntN(4) == 0 {
				f.ArchivePath = str()
			}
			g.Files = append(g.Files, f)
		}
		gs = append(gs, g)
	}
	return gs
}

func TestDupesTextAndFdupesEqualFormattedOutput(t *testing.T) {
	rng := rand.New(rand.NewPCG(20, 26))
	gs := randomGroups(rng, 3000)
	for _, multi := range []bool{false, true} {
		var got bytes.Buffer
		w := bufio.NewWriter(&got)
		d := &dupesText{}
		if err := d.begin(w, multi); err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		for _, g := range gs {
			if err := d.group(g); err != nil {
				t.Fatal(err)
			}
			refText(&want, g, multi)
		}
		w.Flush()
		compareLines(t, fmt.Sprintf("text, multi %v", multi), got.String(), want.String())
	}
	for _, sep := range []byte{'\n', 0} {
		var got bytes.Buffer
		w := bufio.NewWriter(&got)
		d := &dupesFdupes{sep: sep}
		if err := d.begin(w, false); err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		for _, g := range gs {
			if err := d.group(g); err != nil {
				t.Fatal(err)
			}
			refFdupes(&want, g, sep)
		}
		w.Flush()
		compareLines(t, fmt.Sprintf("fdupes, separator %q", sep), got.String(), want.String())
	}
}

// compareLines reports the first line where got and want part.
func compareLines(t *testing.T, what, got, want string) {
	t.Helper()
	if got == want {
		return
	}
	g, w := strings.SplitAfter(got, "\n"), strings.SplitAfter(want, "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			t.Fatalf("%s: line %d\n got %q\nwant %q", what, i+1, g[i], w[i])
		}
	}
	t.Fatalf("%s: %d lines, want %d", what, len(g), len(w))
}

func TestAppendDisplayPath(t *testing.T) {
	for _, p := range []string{"", "/plain/ascii ~", `"quoted`, "a\"b", "/é/日本", "/nb\u00a0sp", "/new\nline", "/del\x7f",
		"/bad\xffname", "/cut\xc3", "/sep\u2028", "/emoji\U0001F600", "\x00"} {
		if got, want := string(appendDisplayPath([]byte("x "), p)), "x "+refDisplayPath(p); got != want {
			t.Errorf("appendDisplayPath(%q) = %q, want %q", p, got, want)
		}
		if got, want := displayPath(p), refDisplayPath(p); got != want {
			t.Errorf("displayPath(%q) = %q, want %q", p, got, want)
		}
	}
}

// BenchmarkDupesOutput prints groups shaped like the bench corpus's (two or
// three files of plain paths a group) in each format, and the text and
// fdupes formats as they were written with fmt ("ref"), per group.
func BenchmarkDupesOutput(b *testing.B) {
	var gs []dto.DupeGroup
	for i := range 1000 {
		g := dto.DupeGroup{SHA256: strings.Repeat("0123456789abcdef", 4), Size: int64(1024 + i*37), Count: 2 + i%2, Copies: 2 + i%2}
		g.Reclaimable = int64(g.Copies-1) * g.Size
		for j := range g.Count {
			g.Files = append(g.Files, dto.DupeFile{Machine: "host", Path: fmt.Sprintf("/tmp/bench/small/%03d/%06d-%d.bin", i%100, i, j)})
		}
		gs = append(gs, g)
	}
	writers := map[string]func() dupesWriter{
		"text":   func() dupesWriter { return &dupesText{} },
		"fdupes": func() dupesWriter { return &dupesFdupes{sep: '\n'} },
		"csv":    func() dupesWriter { return &dupesCSV{} },
		"json":   func() dupesWriter { return &dupesJSON{} },
	}
	for name, mk := range writers {
		b.Run(name, func(b *testing.B) {
			w := bufio.NewWriterSize(discard{}, 64<<10)
			d := mk()
			if err := d.begin(w, false); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if err := d.group(gs[i%len(gs)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	refs := map[string]func(*bytes.Buffer, dto.DupeGroup){
		"ref-text":   func(w *bytes.Buffer, g dto.DupeGroup) { refText(w, g, false) },
		"ref-fdupes": func(w *bytes.Buffer, g dto.DupeGroup) { refFdupes(w, g, '\n') },
	}
	for name, f := range refs {
		b.Run(name, func(b *testing.B) {
			var w bytes.Buffer
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if w.Len() > 64<<10 {
					w.Reset()
				}
				f(&w, gs[i%len(gs)])
			}
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func TestDupesCSVEqualsEncodingCSV(t *testing.T) {
	rng := rand.New(rand.NewPCG(20, 27))
	gs := randomGroups(rng, 3000)
	// Fields encoding/csv treats apart, which random pieces seldom make.
	var odd []dto.DupeFile
	for _, p := range []string{`\.`, "", " lead", "\tlead", "\u00a0lead", "\u2028lead", "\xa0", "a,b", "a\"b", "a\rb", "a\nb", "end "} {
		odd = append(odd, dto.DupeFile{Machine: p, Path: p, ArchivePath: p})
	}
	gs = append(gs, dto.DupeGroup{SHA256: `\.`, Files: odd}, dto.DupeGroup{SHA256: " x,y"})

	var got bytes.Buffer
	w := bufio.NewWriter(&got)
	d := &dupesCSV{}
	if err := d.begin(w, false); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	c := csv.NewWriter(&want)
	c.Write([]string{"sha256", "size", "count", "copies", "reclaimable", "machine", "path", "archive_path", "linked"})
	for _, g := range gs {
		if err := d.group(g); err != nil {
			t.Fatal(err)
		}
		head := []string{g.SHA256, strconv.FormatInt(g.Size, 10), strconv.Itoa(g.Count), strconv.Itoa(g.Copies), strconv.FormatInt(g.Reclaimable, 10)}
		for _, f := range g.Files {
			c.Write(append(head[:5:5], f.Machine, f.Path, f.ArchivePath, strconv.FormatBool(f.Linked)))
		}
	}
	if err := d.end(dto.DupeTotals{}); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	c.Flush()
	compareLines(t, "csv", got.String(), want.String())
}
