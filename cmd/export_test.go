package cmd

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/indexer/indexer/internal/dto"
)

// oddNames are file names that checksum formats must escape or carry byte
// for byte.
var oddNames = []string{"plain.txt", `back\slash`, "new\nline", "cr\rmid", "com,ma", "sp ace", "sub/deep.bin", `sub/\leading`}

// exportTree writes files named names under a new directory, each with its
// own content, scans it into a new catalog, and returns both.
func exportTree(t *testing.T, names []string) (dir, db string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "tree")
	for i, n := range names {
		p := filepath.Join(dir, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.Repeat(n, i+1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db = filepath.Join(t.TempDir(), "c.db")
	if code, _, errOut := runCLI(t, "--db", db, "--machine", "here", "scan", "-q", dir); code != 0 {
		t.Fatalf("scan: exit %d: %s", code, errOut)
	}
	return dir, db
}

// exportTo runs export with args and writes its output to a new file.
func exportTo(t *testing.T, wantCode int, args ...string) (file, stderr string) {
	t.Helper()
	code, out, errOut := runCLI(t, append([]string{"export"}, args...)...)
	if code != wantCode {
		t.Fatalf("export %v: exit %d, want %d: %s", args, code, wantCode, errOut)
	}
	file = filepath.Join(t.TempDir(), "export")
	if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return file, errOut
}

// TestExportSumsCheckWithCoreutils has GNU md5sum, sha1sum and sha256sum
// check the real tree against the exported files, names with a backslash,
// a line feed and a carriage return included; and fail once a file changes.
func TestExportSumsCheckWithCoreutils(t *testing.T) {
	dir, db := exportTree(t, oddNames)
	for _, tool := range []string{"sha256sum", "md5sum", "sha1sum"} {
		t.Run(tool, func(t *testing.T) {
			file, _ := exportTo(t, 0, "--db", db, "--format", tool)
			cmd := exec.Command(tool, "-c", file)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s -c: %v\n%s", tool, err, out)
			}
			if got := strings.Count(string(out), ": OK\n"); got != len(oddNames) {
				t.Errorf("%s -c confirmed %d files, want %d:\n%s", tool, got, len(oddNames), out)
			}
		})
	}
	file, _ := exportTo(t, 0, "--db", db, "--format", "sha256sum")
	if err := os.WriteFile(filepath.Join(dir, "new\nline"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("sha256sum", "-c", "--quiet", file).CombinedOutput(); err == nil {
		t.Errorf("sha256sum -c passed a changed file:\n%s", out)
	}
}

// requireTool skips the test when tool is missing, except on CI (CI=true),
// which must install it.
func requireTool(t *testing.T, tool, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed; CI must install it (apt-get install -y %s)", tool, pkg)
		}
		t.Skipf("%s is not installed (apt-get install -y %s)", tool, pkg)
	}
}

// TestExportHashdeepAudits has hashdeep audit the real tree against the
// exported file. Hashdeep has no escapes, so a name with a line break is
// left out, counted, and exit 3.
func TestExportHashdeepAudits(t *testing.T) {
	requireTool(t, "hashdeep", "hashdeep")
	var names []string
	for _, n := range oddNames {
		if !strings.Contains(n, "\n") {
			names = append(names, n)
		}
	}
	dir, db := exportTree(t, names)
	file, _ := exportTo(t, 0, "--db", db, "--format", "hashdeep")
	if out, err := exec.Command("hashdeep", "-r", "-a", "-k", file, dir).CombinedOutput(); err != nil {
		t.Fatalf("hashdeep -a: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, `back\slash`), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("hashdeep", "-r", "-a", "-k", file, dir).CombinedOutput(); err == nil {
		t.Errorf("hashdeep -a passed a changed file:\n%s", out)
	}

	_, db = exportTree(t, oddNames)
	file, errOut := exportTo(t, ExitPartial, "--db", db, "--format", "hashdeep")
	if !strings.Contains(errOut, "1 files have a line break") {
		t.Errorf("stderr %q does not count the name with a line break", errOut)
	}
	b, _ := os.ReadFile(file)
	if got := strings.Count(string(b), ",/"); got != len(oddNames)-1 {
		t.Errorf("hashdeep file lists %d files, want %d:\n%s", got, len(oddNames)-1, b)
	}
}

// TestExportJSONLinesAndCSV reads both back: every column, every name byte
// for byte.
func TestExportJSONLinesAndCSV(t *testing.T) {
	dir, db := exportTree(t, oddNames)
	var want []string
	for _, n := range oddNames {
		want = append(want, filepath.Join(dir, n))
	}
	slices.Sort(want)

	file, _ := exportTo(t, 0, "--db", db)
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e dto.Exported
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if e.Machine != "here" || e.SHA256 == "" || e.MD5 == "" || e.SHA1 == "" || e.Inode == 0 || e.ScanID != 1 ||
			e.Name != filepath.Base(e.Path) || e.Operation != dto.OpAdd || e.Modified == "" || e.Nlink != 1 {
			t.Errorf("row %+v lacks a column", e)
		}
		got = append(got, e.Path)
	}
	if !slices.Equal(got, want) {
		t.Errorf("jsonl paths %q, want %q", got, want)
	}

	file, _ = exportTo(t, 0, "--db", db, "--format", "csv", "--under", filepath.Join(dir, "sub"))
	b, _ := os.ReadFile(file)
	rows, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows[0], exportCSVHeader) || len(rows[0]) != 20 {
		t.Errorf("header %q", rows[0])
	}
	got = nil
	for _, r := range rows[1:] {
		got = append(got, r[2])
	}
	if w := []string{filepath.Join(dir, `sub/\leading`), filepath.Join(dir, "sub/deep.bin")}; !slices.Equal(got, w) {
		t.Errorf("csv --under sub paths %q, want %q", got, w)
	}
}

// TestExportRefuses: the bare-path formats over several machines, and
// archive entries, which have no path of their own.
func TestExportRefuses(t *testing.T) {
	_, db := exportTree(t, []string{"a"})
	other := filepath.Join(t.TempDir(), "b")
	os.WriteFile(other, []byte("b"), 0o644)
	if code, _, errOut := runCLI(t, "--db", db, "--machine", "there", "scan", "-q", other); code != 0 {
		t.Fatal(errOut)
	}
	for _, args := range [][]string{
		{"--format", "sha256sum"},
		{"--format", "hashdeep", "--include-archived", "--machine", "here"},
		{"--format", "xml"},
	} {
		code, out, errOut := runCLI(t, append([]string{"--db", db, "export"}, args...)...)
		if code != ExitUsage || out != "" {
			t.Errorf("export %v: exit %d, stdout %q, stderr %q; want a usage error", args, code, out, errOut)
		}
	}
	if code, out, _ := runCLI(t, "--db", db, "--machine", "there", "export", "--format", "sha256sum"); code != 0 || strings.Count(out, "\n") != 1 {
		t.Errorf("export --machine there: exit %d, %q", code, out)
	}
}
