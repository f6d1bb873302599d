package cmd

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/indexer/indexer/internal/catalogtest"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/service"
)

// files returns the labels of the groups' files, group by group.
func files(gs []catalogtest.Group) [][]string {
	var out [][]string
	for _, g := range gs {
		out = append(out, g.Files)
	}
	return out
}

// copiesOnly returns the files of each group as the fdupes format lists
// them: one name per copy, the first of the linked names. The sample's groups
// hold at most one set of linked names each, so all of a group's linked
// names are one file.
func copiesOnly(gs []catalogtest.Group) [][]string {
	var out [][]string
	for _, g := range gs {
		var fs []string
		for _, f := range g.Files {
			if len(g.Linked) > 0 && f != g.Linked[0] && slices.Contains(g.Linked, f) {
				continue
			}
			fs = append(fs, f)
		}
		out = append(out, fs)
	}
	return out
}

// parseLocation reads back "machine:path" as text output prints it, quoted
// or not; without a machine prefix the machine is m.
func parseLocation(t *testing.T, line, m string) string {
	t.Helper()
	if m == "" {
		var ok bool
		m, line, ok = strings.Cut(line, ":")
		if !ok {
			t.Fatalf("line %q has no machine prefix", line)
		}
	}
	if strings.HasPrefix(line, `"`) {
		u, err := strconv.Unquote(line)
		if err != nil {
			t.Fatalf("unquote %q: %v", line, err)
		}
		line = u
	}
	path, inner, _ := strings.Cut(line, "::")
	return catalogtest.Label(m, path, inner)
}

// TestDupesFdupesAndPrint0 reads back -0 and checks the fdupes format is
// the same paths, byte for byte, with newlines.
func TestDupesFdupesAndPrint0(t *testing.T) {
	catalogtest.EachSample(t, func(t *testing.T, s *catalogtest.SampleCatalog) {
		for _, machine := range []string{catalogtest.M1} {
			args := []string{"--db", s.DBPath, "dupes", "-0", "--machine", machine}
			code, out, errOut := runCLI(t, args...)
			if code != 0 {
				t.Fatalf("%v: exit %d: %s", args, code, errOut)
			}
			if !strings.HasSuffix(out, "\x00\x00") {
				t.Fatalf("-0 output does not end a group with an empty record: %q", out[max(0, len(out)-40):])
			}
			var got [][]string
			var lines strings.Builder
			for _, block := range strings.Split(strings.TrimSuffix(out, "\x00\x00"), "\x00\x00") {
				var g []string
				for _, p := range strings.Split(block, "\x00") {
					lines.WriteString(p + "\n")
					path, inner, _ := strings.Cut(p, "::")
					g = append(g, catalogtest.Label(machine, path, inner))
				}
				lines.WriteString("\n")
				got = append(got, g)
			}
			want := copiesOnly(s.ExpectDupes(t, service.DupesOptions{MinSize: 1, Machine: machine}))
			if !reflect.DeepEqual(got, want) {
				t.Errorf("machine %q:\n got %q\nwant %q", machine, got, want)
			}
			args[3] = "--format=fdupes"
			if _, fd, _ := runCLI(t, args...); fd != lines.String() {
				t.Errorf("machine %q: fdupes format\n%q\nwant the -0 paths with newlines\n%q", machine, fd, lines.String())
			}
		}
	})
}

// TestDupesPathsAreUnder checks PATH arguments act as --under, several at
// once, and that the new filters reach the query.
func TestDupesPathsAreUnder(t *testing.T) {
	s := catalogtest.SampleScanned(t)
	m1 := s.Roots[catalogtest.M1]
	a, b := filepath.Join(m1, "a"), filepath.Join(m1, "b")
	labels := func(args ...string) [][]string {
		t.Helper()
		code, out, errOut := runCLI(t, append([]string{"--db", s.DBPath, "dupes", "-0", "--machine", "m1"}, args...)...)
		if code != 0 {
			t.Fatalf("%q: exit %d: %s", args, code, errOut)
		}
		if errOut != "" {
			t.Errorf("%q: stderr %q", args, errOut)
		}
		var gs [][]string
		for _, block := range strings.Split(strings.TrimSuffix(out, "\x00\x00"), "\x00\x00") {
			if block != "" {
				var g []string
				for _, p := range strings.Split(block, "\x00") {
					g = append(g, catalogtest.Label("m1", p, ""))
				}
				gs = append(gs, g)
			}
		}
		return gs
	}
	under := copiesOnly(s.ExpectDupes(t, service.DupesOptions{MinSize: 1, Machine: "m1", Under: []string{a, b}}))
	if len(under) < 2 {
		t.Fatalf("fixture: %d groups under a and b", len(under))
	}
	if got := labels(a, b); !reflect.DeepEqual(got, under) {
		t.Errorf("dupes A B\n got %q\nwant %q", got, under)
	}
	if got := labels("--under", a, b); !reflect.DeepEqual(got, under) {
		t.Errorf("dupes --under A B\n got %q\nwant %q", got, under)
	}
	jpg := copiesOnly(s.ExpectDupes(t, service.DupesOptions{MinSize: 1, Machine: "m1", Name: "*.jpg"}))
	if got := labels("--name", "*.jpg"); len(jpg) == 0 || !reflect.DeepEqual(got, jpg) {
		t.Errorf("--name '*.jpg'\n got %q\nwant %q", got, jpg)
	}
	small := copiesOnly(s.ExpectDupes(t, service.DupesOptions{MinSize: 1, Machine: "m1", MaxSize: ptr(3000)}))
	if got := labels("--max-size", "3000"); len(small) == 0 || !reflect.DeepEqual(got, small) {
		t.Errorf("--max-size 3000\n got %q\nwant %q", got, small)
	}
	all := copiesOnly(s.ExpectDupes(t, service.DupesOptions{MinSize: 1, Machine: "m1"}))
	if got := labels("--limit", "1"); !reflect.DeepEqual(got, all[:1]) {
		t.Errorf("--limit 1\n got %q\nwant %q", got, all[:1])
	}
}

func ptr(n int64) *int64 { return &n }

// TestUnderOutsideScannedRoots checks that --under a path no scan covered
// says so on stderr, and a covered one does not.
func TestUnderOutsideScannedRoots(t *testing.T) {
	s := catalogtest.SampleScanned(t)
	elsewhere := t.TempDir()
	for _, args := range [][]string{{"dupes", elsewhere}, {"dupes", "--under", elsewhere}, {"find", "--under", elsewhere}} {
		code, out, errOut := runCLI(t, append([]string{"--db", s.DBPath}, args...)...)
		if code != 0 || !strings.Contains(errOut, elsewhere+" is not under any scanned root") {
			t.Errorf("%q: exit %d, stderr %q, stdout %q", args, code, errOut, out)
		}
	}
	for _, under := range []string{s.Roots[catalogtest.M1], filepath.Join(s.Roots[catalogtest.M1], "a"), filepath.Dir(s.Roots[catalogtest.M1])} {
		if code, _, errOut := runCLI(t, "--db", s.DBPath, "find", "--under", under); code != 0 || errOut != "" {
			t.Errorf("find --under %s: exit %d, stderr %q", under, code, errOut)
		}
	}
	// A root of another machine does not cover a path for --machine m1.
	if _, _, errOut := runCLI(t, "--db", s.DBPath, "dupes", "--machine", "m1", s.Roots[catalogtest.M2]); !strings.Contains(errOut, "not under any scanned root") {
		t.Errorf("m2's root for m1: stderr %q", errOut)
	}
}

// TestFindFormats checks --format paths, csv and -0 list the same entries
// as --json, byte for byte.
func TestFindFormats(t *testing.T) {
	s := catalogtest.Sample(t)
	_, out, _ := runCLI(t, "--db", s.DBPath, "find", "--json", "--machine", "m1")
	var js []dto.Found
	if err := json.Unmarshal([]byte(out), &js); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range js {
		p, err := dto.DecodePath(f.Path, f.PathB64)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, p)
	}
	if len(want) < 10 {
		t.Fatalf("only %d entries", len(want))
	}
	_, zero, _ := runCLI(t, "--db", s.DBPath, "find", "-0", "--machine", "m1")
	if got := strings.Split(strings.TrimSuffix(zero, "\x00"), "\x00"); !reflect.DeepEqual(got, want) {
		t.Errorf("-0\n got %q\nwant %q", got, want)
	}
	_, lines, _ := runCLI(t, "--db", s.DBPath, "find", "--format", "paths", "--machine", "m1")
	if lines != strings.Join(want, "\n")+"\n" {
		t.Errorf("--format paths %q", lines)
	}
	_, c, _ := runCLI(t, "--db", s.DBPath, "find", "--format", "csv", "--machine", "m1")
	recs, err := csv.NewReader(strings.NewReader(c)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(recs[0], foundCSVHeader) || len(recs) != len(want)+1 {
		t.Fatalf("csv header %q, %d rows", recs[0], len(recs)-1)
	}
	for i, r := range recs[1:] {
		if r[1] != want[i] || r[0] != "m1" || r[7] != js[i].SHA256 || r[3] != strconv.FormatInt(js[i].Size, 10) {
			t.Errorf("csv row %q, want path %q", r, want[i])
		}
	}
}

// TestExactFormatsNeedOneMachine checks that the formats of bare paths,
// over a catalog of several machines, refuse to run without --machine
// (a "machine:" prefix would make a line that is no file name), and print
// that machine's paths alone with it.
func TestExactFormatsNeedOneMachine(t *testing.T) {
	s := catalogtest.Sample(t)
	for _, args := range [][]string{
		{"dupes", "-0"}, {"dupes", "--format", "fdupes"},
		{"find", "-0", "photo1.jpg"}, {"find", "--format", "paths", "photo1.jpg"},
	} {
		code, out, errOut := runCLI(t, append([]string{"--db", s.DBPath}, args...)...)
		if code != ExitUsage || out != "" || !strings.Contains(errOut, "pass --machine NAME") || !strings.Contains(errOut, "m1, m2") {
			t.Errorf("%q over two machines: exit %d, stdout %q, stderr %q; want a usage error naming the machines", args, code, out, errOut)
		}
		code, out, errOut = runCLI(t, append([]string{"--db", s.DBPath, "--machine", "m1"}, args...)...)
		if code != 0 || strings.Contains(out, "m1:") || !strings.Contains(out, filepath.Join(s.Roots["m1"], "a", "photo1.jpg")) ||
			strings.Contains(out, s.Roots["m2"]) {
			t.Errorf("%q --machine m1: exit %d, stdout %q, stderr %q; want m1's bare paths alone", args, code, out, errOut)
		}
	}
	// Text and the other formats still span every machine.
	if code, out, _ := runCLI(t, "--db", s.DBPath, "find", "photo1.jpg"); code != 0 || !strings.Contains(out, "m2:") || !strings.Contains(out, "m1:") {
		t.Errorf("find text over two machines: exit %d\n%s", code, out)
	}
}

// TestFindTermsAndArchives checks several terms, glob terms and the
// archive default through the command line.
func TestFindTermsAndArchives(t *testing.T) {
	s := catalogtest.Sample(t)
	m1, m2 := s.Roots["m1"], s.Roots["m2"]
	zip := filepath.Join(m2, "docs", "old.zip")
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"*.jpg"}, []string{filepath.Join(m1, "a/photo1.jpg"), filepath.Join(m1, "b/deep/x.jpg"), filepath.Join(m1, "b/link.jpg"), filepath.Join(m2, "photos/photo1.jpg")}},
		{[]string{"*.jpg", "--include-archived"}, []string{filepath.Join(m1, "a/photo1.jpg"), filepath.Join(m1, "b/deep/x.jpg"), filepath.Join(m1, "b/link.jpg"), zip + "::2019/photo1.jpg", filepath.Join(m2, "photos/photo1.jpg")}},
		{[]string{"doc", "m1/b"}, []string{filepath.Join(m1, "b/doc.txt")}},
		{[]string{"-i", "*.txt", "ODD", "[0-9]*"}, []string{filepath.Join(m1, "odd/100% done.txt"), filepath.Join(m1, "odd/100x done.txt")}},
	} {
		// csv: the paths of both machines, byte for byte (-0 needs --machine).
		_, out, errOut := runCLI(t, append([]string{"--db", s.DBPath, "find", "--format", "csv"}, tt.args...)...)
		recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil || len(recs) == 0 {
			t.Fatalf("find %q: csv %q: %v", tt.args, out, err)
		}
		var got []string
		for _, r := range recs[1:] {
			got = append(got, exactLocation(r[1], r[2]))
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("find %q\n got %q\nwant %q (stderr %q)", tt.args, got, tt.want, errOut)
		}
	}
}

func TestDupesCSV(t *testing.T) {
	s := catalogtest.Sample(t)
	code, out, errOut := runCLI(t, "--db", s.DBPath, "dupes", "--format", "csv", "--min-size", "0")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"sha256", "size", "count", "copies", "reclaimable", "machine", "path", "archive_path", "linked"}; !reflect.DeepEqual(recs[0], want) {
		t.Fatalf("header %q, want %q", recs[0], want)
	}
	var got []catalogtest.Group
	for _, r := range recs[1:] {
		if len(got) == 0 || got[len(got)-1].SHA256 != r[0] {
			size, _ := strconv.ParseInt(r[1], 10, 64)
			copies, _ := strconv.Atoi(r[3])
			recl, _ := strconv.ParseInt(r[4], 10, 64)
			got = append(got, catalogtest.Group{SHA256: r[0], Size: size, Copies: copies, Reclaimable: recl})
		}
		g := &got[len(got)-1]
		l := catalogtest.Label(r[5], r[6], r[7])
		g.Files = append(g.Files, l)
		if r[8] == "true" {
			g.Linked = append(g.Linked, l)
		}
	}
	want := s.ExpectDupes(t, service.DupesOptions{})
	if !reflect.DeepEqual(got, want) {
		t.Errorf("csv groups\n got %+v\nwant %+v", got, want)
	}
}

// dupesDoc is the documented shape of dupes --json.
type dupesDoc struct {
	Groups []struct {
		SHA256      string `json:"sha256"`
		Size        int64  `json:"size"`
		Count       int    `json:"count"`
		Copies      int    `json:"copies"`
		Reclaimable int64  `json:"reclaimable"`
		Files       []struct {
			Machine        string `json:"machine"`
			Path           string `json:"path"`
			PathB64        string `json:"path_b64"`
			ArchivePath    string `json:"archive_path"`
			ArchivePathB64 string `json:"archive_path_b64"`
			Linked         bool   `json:"linked"`
		} `json:"files"`
	} `json:"groups"`
	GroupsTotal      int64 `json:"groups_total"`
	FilesTotal       int64 `json:"files_total"`
	ReclaimableTotal int64 `json:"reclaimable_total"`
}

func TestDupesJSON(t *testing.T) {
	catalogtest.EachSample(t, func(t *testing.T, s *catalogtest.SampleCatalog) {
		opts := service.DupesOptions{MinSize: 1, IncludeArchived: true}
		code, out, errOut := runCLI(t, "--db", s.DBPath, "--json", "dupes", "--include-archived")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		dec := json.NewDecoder(strings.NewReader(out))
		dec.DisallowUnknownFields()
		var doc dupesDoc
		if err := dec.Decode(&doc); err != nil {
			t.Fatalf("decode: %v\n%s", err, out)
		}
		var got []catalogtest.Group
		var nfiles int64
		b64 := 0
		for _, g := range doc.Groups {
			gg := catalogtest.Group{SHA256: g.SHA256, Size: g.Size, Copies: g.Copies, Reclaimable: g.Reclaimable}
			if g.Count != len(g.Files) {
				t.Errorf("count %d, %d files", g.Count, len(g.Files))
			}
			for _, f := range g.Files {
				p, err := dto.DecodePath(f.Path, f.PathB64)
				if err != nil {
					t.Fatal(err)
				}
				if f.PathB64 != "" {
					b64++
				}
				inner, err := dto.DecodePath(f.ArchivePath, f.ArchivePathB64)
				if err != nil {
					t.Fatal(err)
				}
				l := catalogtest.Label(f.Machine, p, inner)
				gg.Files = append(gg.Files, l)
				if f.Linked {
					gg.Linked = append(gg.Linked, l)
				}
			}
			nfiles += int64(len(g.Files))
			got = append(got, gg)
		}
		want := s.ExpectDupes(t, opts)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("json groups\n got %+v\nwant %+v", got, want)
		}
		if b64 != 1 {
			t.Errorf("%d paths carry path_b64, want 1 (odd/bad\\xffname)", b64)
		}
		if doc.GroupsTotal != int64(len(want)) || doc.FilesTotal != nfiles {
			t.Errorf("totals %d groups %d files, want %d and %d", doc.GroupsTotal, doc.FilesTotal, len(want), nfiles)
		}
		// An empty listing is still the documented object.
		_, out, _ = runCLI(t, "--db", s.DBPath, "dupes", "--json", "--min-size", "1G")
		var empty map[string]any
		if err := json.Unmarshal([]byte(out), &empty); err != nil || len(empty["groups"].([]any)) != 0 || empty["groups_total"].(float64) != 0 {
			t.Errorf("empty listing %q: %v", out, err)
		}
	})
}

func TestDupesText(t *testing.T) {
	s := catalogtest.Sample(t)
	code, out, errOut := runCLI(t, "--db", s.DBPath, "dupes", "--machine", "m1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	m1 := s.Roots[catalogtest.M1]
	for _, want := range []string{
		"  " + filepath.Join(m1, "a", "photo1.jpg") + "  [linked]\n",
		"  " + filepath.Join(m1, "b", "link.jpg") + "  [linked]\n",
		"  " + strconv.Quote(filepath.Join(m1, "odd", "new\nline.txt")) + "\n",
		"  " + strconv.Quote(filepath.Join(m1, "odd", "bad\xffname")) + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	want := s.ExpectDupes(t, service.DupesOptions{MinSize: 1, Machine: "m1"})
	var nfiles int
	for _, g := range want {
		nfiles += len(g.Files)
	}
	// A header, one line per file and a blank line per group, then the total.
	if lines := strings.Count(out, "\n"); lines != 2*len(want)+nfiles+1 {
		t.Errorf("%d lines, want %d", lines, 2*len(want)+nfiles+1)
	}
	if !strings.Contains(out, strconv.Itoa(len(want))+" groups, "+strconv.Itoa(nfiles)+" files, ") {
		t.Errorf("no total line for %d groups and %d files:\n%s", len(want), nfiles, out)
	}
	// Several machines: every path gets its machine.
	_, out, _ = runCLI(t, "--db", s.DBPath, "dupes")
	if !strings.Contains(out, "  m2:"+filepath.Join(s.Roots[catalogtest.M2], "photos", "photo1.jpg")+"\n") {
		t.Errorf("no machine prefix:\n%s", out)
	}
}

func TestFindJSONRoundTripsEveryName(t *testing.T) {
	catalogtest.EachSample(t, func(t *testing.T, s *catalogtest.SampleCatalog) {
		code, out, errOut := runCLI(t, "--db", s.DBPath, "find", "--json", "--include-archived")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var got []struct {
			Machine        string `json:"machine"`
			Path           string `json:"path"`
			PathB64        string `json:"path_b64"`
			ArchivePath    string `json:"archive_path"`
			ArchivePathB64 string `json:"archive_path_b64"`
			Size           int64  `json:"size"`
			Modified       string `json:"modified"`
			MD5            string `json:"md5"`
			SHA1           string `json:"sha1"`
			SHA256         string `json:"sha256"`
			Operation      string `json:"operation"`
		}
		dec := json.NewDecoder(strings.NewReader(out))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("decode: %v\n%s", err, out)
		}
		var names, want []string
		for _, f := range got {
			p, err := dto.DecodePath(f.Path, f.PathB64)
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, catalogtest.Label(f.Machine, p, f.ArchivePath))
			if len(f.SHA256) != 64 || len(f.MD5) != 32 || len(f.SHA1) != 40 || f.Operation == "" || f.Modified == "" {
				t.Errorf("entry %+v lacks a field", f)
			}
		}
		for _, e := range s.Entries {
			if !e.Deleted {
				want = append(want, catalogtest.Label(e.Machine, e.Path, e.ArchivePath))
			}
		}
		sort.Strings(names)
		sort.Strings(want)
		if !reflect.DeepEqual(names, want) {
			t.Errorf("names do not round-trip\n got %q\nwant %q", names, want)
		}
		// No match is an empty array.
		code, out, _ = runCLI(t, "--db", s.DBPath, "find", "--json", "--name", "*.none")
		if code != 0 || strings.TrimSpace(out) != "[]" {
			t.Errorf("no match: exit %d, %q", code, out)
		}
	})
}

func TestFindText(t *testing.T) {
	s := catalogtest.Sample(t)
	code, out, errOut := runCLI(t, "--db", s.DBPath, "find", "--machine", "m1", "--under", filepath.Join(s.Roots["m1"], "odd"), "-i", "--name", "*.TXT")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	var got []string
	for _, l := range lines {
		// "   size unit  YYYY-MM-DD HH:MM  path"
		fields := strings.SplitN(strings.TrimLeft(l, " "), "  ", 3)
		if len(fields) != 3 {
			t.Fatalf("line %q is not size, time, path", l)
		}
		got = append(got, parseLocation(t, fields[2], "m1"))
	}
	odd := filepath.Join(s.Roots["m1"], "odd")
	var want []string
	for _, n := range []string{"100% done.txt", "100x done.txt", "Café.TXT", "a_b.txt", "axb.txt", "new\nline.txt", "tab\there.txt"} {
		want = append(want, catalogtest.Label("m1", filepath.Join(odd, n), ""))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestLookupExitCodes(t *testing.T) {
	s := catalogtest.Sample(t)
	dir := t.TempDir()
	catalogtest.WriteFiles(t, dir, map[string]string{"have.txt": "hello\n", "fresh.txt": "new content"})
	have, fresh, missing := filepath.Join(dir, "have.txt"), filepath.Join(dir, "fresh.txt"), filepath.Join(dir, "missing.txt")
	tests := []struct {
		files []string
		code  int
	}{
		{[]string{have}, 0},
		{[]string{have, have}, 0},
		{[]string{have, fresh}, 1},
		{[]string{fresh}, 1},
		{[]string{have, missing}, 2},
		{[]string{missing, fresh, have}, 2},
		{[]string{dir}, 2},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(t, append([]string{"--db", s.DBPath, "lookup"}, tt.files...)...)
		if code != tt.code {
			t.Errorf("lookup %q: exit %d, want %d\n%s%s", tt.files, code, tt.code, out, errOut)
		}
		for _, f := range tt.files {
			if f == missing || f == dir {
				if !strings.Contains(errOut, f) {
					t.Errorf("stderr %q does not name %s", errOut, f)
				}
				continue
			}
			if !strings.Contains(out, f+": ") {
				t.Errorf("stdout %q does not report %s", out, f)
			}
		}
	}
	code, out, _ := runCLI(t, "--db", s.DBPath, "--json", "lookup", have, fresh, missing)
	var got []dto.LookupResult
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != 2 {
		t.Fatalf("exit %d, %v: %s", code, err, out)
	}
	if len(got) != 3 || !got[0].Found || len(got[0].Locations) != 3 || got[1].Found || got[1].SHA256 == "" ||
		got[2].Error == "" || got[1].Locations == nil {
		t.Errorf("json results %+v", got)
	}
	if !strings.Contains(out, `"locations": []`) && !strings.Contains(out, `"locations":[]`) {
		t.Errorf("a miss must list no locations as [], not null: %s", out)
	}
}

func TestStatsJSON(t *testing.T) {
	s := catalogtest.Sample(t)
	code, out, errOut := runCLI(t, "--db", s.DBPath, "stats", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got dto.Stats
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	want, err := s.Stats(context.Background(), 5)
	if err != nil {
		t.Fatal(err)
	}
	got.Scans, want.Scans = nil, nil // times lose their monotonic clock in JSON
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stats --json\n got %+v\nwant %+v", got, want)
	}
	code, out, _ = runCLI(t, "--db", s.DBPath, "stats")
	if code != 0 || !strings.Contains(out, "duplicate groups") || !strings.Contains(out, "last scans") {
		t.Errorf("stats text: exit %d\n%s", code, out)
	}
}

func TestQueryUsageErrors(t *testing.T) {
	s := catalogtest.Sample(t)
	for _, args := range [][]string{
		{"dupes", "--min-size", "1X"},
		{"dupes", "--min-size", "-5"},
		{"dupes", "--format", "xml"},
		{"dupes", "--json", "--format", "csv"},
		{"dupes", "-0", "--format", "csv"},
		{"dupes", "-0", "--json"},
		{"dupes", "--name", "[a-"},
		{"dupes", "--name", ""},
		{"dupes", "--limit", "-1"},
		{"dupes", "--max-size", "x"},
		{"find", "--format", "xml"},
		{"find", "-0", "--format", "text"},
		{"find", "--hash", "abcdef0"},
		{"find", "[a-"},
		{"find", ""},
		{"find", "--name", "[a-"},
		{"find", "--name", ""},
		{"find", "--hash", "abc"},
		{"find", "--max-size", "big"},
		{"find", "--limit", "-1"},
		{"lookup"},
		{"stats", "extra"},
		{"stats", "--scans", "-1"},
	} {
		code, _, errOut := runCLI(t, append([]string{"--db", s.DBPath}, args...)...)
		if code != ExitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, ExitUsage)
		}
		if !strings.HasPrefix(errOut, "indexer: ") || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%q: stderr %q is not one line", args, errOut)
		}
	}
}

func TestQueriesNeedACatalog(t *testing.T) {
	db := filepath.Join(t.TempDir(), "none.db")
	for _, cmd := range []string{"dupes", "find", "stats"} {
		code, _, errOut := runCLI(t, "--db", db, cmd)
		if code != ExitError || !strings.Contains(errOut, "no catalog") {
			t.Errorf("%s: exit %d, %q", cmd, code, errOut)
		}
	}
	if _, err := os.Stat(db); err == nil {
		t.Error("a query created the catalog")
	}
}

func TestQueryCommandsDocumentThemselves(t *testing.T) {
	root, _ := NewRoot(io.Discard, io.Discard)
	for _, name := range []string{"dupes", "find", "lookup", "stats"} {
		c, _, err := root.Find([]string{name})
		if err != nil || c.Name() != name {
			t.Fatalf("no %s command: %v", name, err)
		}
		if c.Long == "" || c.Example == "" || c.Short == "" {
			t.Errorf("%s lacks Short, Long or Example", name)
		}
	}
}
