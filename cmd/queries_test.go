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

func TestDupesFdupesParsesBack(t *testing.T) {
	catalogtest.EachSample(t, func(t *testing.T, s *catalogtest.SampleCatalog) {
		for _, machine := range []string{"", catalogtest.M1} {
			args := []string{"--db", s.DBPath, "dupes", "--format", "fdupes"}
			if machine != "" {
				args = append(args, "--machine", machine)
			}
			code, out, errOut := runCLI(t, args...)
			if code != 0 {
				t.Fatalf("%v: exit %d: %s", args, code, errOut)
			}
			if !strings.HasSuffix(out, "\n\n") {
				t.Errorf("fdupes output does not end with a blank line: %q", out[max(0, len(out)-40):])
			}
			var got [][]string
			for _, block := range strings.Split(strings.TrimSuffix(out, "\n\n"), "\n\n") {
				var g []string
				for _, line := range strings.Split(block, "\n") {
					g = append(g, parseLocation(t, line, machine))
				}
				got = append(got, g)
			}
			want := copiesOnly(s.ExpectDupes(t, service.DupesOptions{MinSize: 1, Machine: machine}))
			if !reflect.DeepEqual(got, want) {
				t.Errorf("machine %q:\n got %q\nwant %q", machine, got, want)
			}
		}
	})
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
		code, out, errOut := runCLI(t, "--db", s.DBPath, "find", "--json")
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
		{"dupes", "extra"},
		{"find", "--name", "[a-"},
		{"find", "--name", ""},
		{"find", "--hash", "abc"},
		{"find", "--max-size", "big"},
		{"find", "--limit", "-1"},
		{"find", "a", "b"},
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
