package cmd

import (
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dbtest"
	"github.com/indexer/indexer/internal/dto"
)

// newTree writes files (name to content) under a new directory.
func newTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, files)
	return dir
}

func scanAs(t *testing.T, dbPath, machine string, roots ...string) {
	t.Helper()
	if code, _, errOut := runCLI(t, append([]string{"--db", dbPath, "--machine", machine, "scan", "-q"}, roots...)...); code != 0 {
		t.Fatalf("scan %v as %s: exit %d: %s", roots, machine, code, errOut)
	}
}

func mergeCLI(t *testing.T, dbPath string, args ...string) string {
	t.Helper()
	code, out, errOut := runCLI(t, append([]string{"--db", dbPath, "merge"}, args...)...)
	if code != 0 {
		t.Fatalf("merge %v: exit %d: %s", args, code, errOut)
	}
	return out
}

// rows returns the catalog's files as export prints them, without what
// differs between two scans of the same files (row and scan ids, when the
// row was written, and ctime_ns, which a scan sets to 0 for a file changed
// too recently to trust).
func rows(t *testing.T, dbPath string) []string {
	t.Helper()
	code, out, errOut := runCLI(t, "--db", dbPath, "export", "--deleted", "--include-archived")
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, errOut)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e dto.Exported
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		e.ID, e.Scanned, e.ScanID, e.CtimeNS = 0, "", 0, 0
		b, _ := json.Marshal(e)
		got = append(got, string(b))
	}
	return got
}

// dump returns every row of files and scans, and the number of events: what
// a merge that changes nothing must leave as it was.
func dump(t *testing.T, dbPath string) string {
	t.Helper()
	x, err := sql.Open(db.DriverName, "file:"+dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	var b strings.Builder
	for _, q := range []string{"SELECT * FROM files ORDER BY id", "SELECT * FROM scans ORDER BY id", "SELECT COUNT(*) FROM events"} {
		r, err := x.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := r.Columns()
		for r.Next() {
			v := make([]any, len(cols))
			p := make([]any, len(cols))
			for i := range v {
				p[i] = &v[i]
			}
			if err := r.Scan(p...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&b, v...)
		}
		r.Close()
	}
	return b.String()
}

// scansOK checks that every row's scan is a scan of its own machine, and
// returns the number of scans of each machine.
func scansOK(t *testing.T, dbPath string) map[string]int {
	t.Helper()
	x, err := sql.Open(db.DriverName, "file:"+dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	var bad int
	if err := x.QueryRow(`SELECT COUNT(*) FROM files f LEFT JOIN scans s ON s.id = f.scan_id
		WHERE f.scan_id IS NOT NULL AND (s.id IS NULL OR s.machine <> f.machine)`).Scan(&bad); err != nil {
		t.Fatal(err)
	}
	if bad != 0 {
		t.Errorf("%d rows name a scan that is not one of their machine's", bad)
	}
	out := map[string]int{}
	r, err := x.Query("SELECT machine, COUNT(*) FROM scans GROUP BY machine")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for r.Next() {
		var m string
		var n int
		r.Scan(&m, &n)
		out[m] = n
	}
	return out
}

// TestMergeEqualsScanningBoth: two catalogs of different machines merged
// equal one catalog that scanned both; a second merge changes nothing.
func TestMergeEqualsScanningBoth(t *testing.T) {
	t1 := newTree(t, map[string]string{"a.txt": "alpha", "sub/b.txt": "beta", `odd\name`: "gamma"})
	t2 := newTree(t, map[string]string{"c.txt": "alpha", "new\nline": "delta"})
	dir := t.TempDir()
	a, b, both := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db"), filepath.Join(dir, "both.db")
	scanAs(t, a, "m1", t1)
	scanAs(t, b, "m2", t2)
	scanAs(t, b, "m2", t2) // two scans of history
	scanAs(t, both, "m1", t1)
	scanAs(t, both, "m2", t2)
	scanAs(t, both, "m2", t2)

	out := mergeCLI(t, a, b)
	if out != "m2: copied, 2 scans added, 2 files written, 0 kept\n" {
		t.Errorf("merge printed %q", out)
	}
	if got, want := rows(t, a), rows(t, both); !slices.Equal(got, want) {
		t.Errorf("merged catalog:\n%s\nwant, as one that scanned both:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := scansOK(t, a); got["m1"] != 1 || got["m2"] != 2 {
		t.Errorf("scans by machine %v; want m1 1, m2 2", got)
	}
	before := dump(t, a)
	if out := mergeCLI(t, a, b); out != "m2: merged, 0 scans added, 0 files written, 2 kept\n" {
		t.Errorf("second merge printed %q", out)
	}
	if after := dump(t, a); after != before {
		t.Errorf("the second merge changed the catalog:\n%s\nwas\n%s", after, before)
	}
}

// TestMergeKeepsTheLaterScan merges one machine file by file, both ways:
// the row of the later scan wins.
func TestMergeKeepsTheLaterScan(t *testing.T) {
	tree := newTree(t, map[string]string{"f.txt": "old", "same.txt": "same"})
	dir := t.TempDir()
	older, newer := filepath.Join(dir, "older.db"), filepath.Join(dir, "newer.db")
	scanAs(t, older, "m", tree)
	os.WriteFile(filepath.Join(tree, "f.txt"), []byte("new content"), 0o644)
	os.WriteFile(filepath.Join(tree, "added.txt"), []byte("added"), 0o644)
	scanAs(t, newer, "m", tree)
	want := rows(t, newer)

	olderCopy := filepath.Join(dir, "older-copy.db")
	copyFile(t, older, olderCopy)
	if out := mergeCLI(t, olderCopy, newer); out != "m: merged, 1 scans added, 3 files written, 0 kept\n" {
		t.Errorf("merge newer into older printed %q", out)
	}
	if got := rows(t, olderCopy); !slices.Equal(got, want) {
		t.Errorf("older catalog after merging a newer one:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if out := mergeCLI(t, newer, older); out != "m: merged, 1 scans added, 0 files written, 2 kept\n" {
		t.Errorf("merge older into newer printed %q", out)
	}
	if got := rows(t, newer); !slices.Equal(got, want) {
		t.Errorf("newer catalog after merging an older one:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := scansOK(t, newer); got["m"] != 2 {
		t.Errorf("scans %v; want both scans of m", got)
	}
}

// TestMergeReplace: --replace drops the machine's rows and scans here.
func TestMergeReplace(t *testing.T) {
	t1 := newTree(t, map[string]string{"x": "x", "y": "y"})
	t2 := newTree(t, map[string]string{"z": "z"})
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")
	scanAs(t, a, "m", t1)
	scanAs(t, a, "other", t1)
	scanAs(t, b, "m", t2)
	if out := mergeCLI(t, a, b, "--replace"); out != "m: replaced, 1 scans added, 1 files written, 0 kept, 2 removed first\n" {
		t.Errorf("merge --replace printed %q", out)
	}
	code, out, _ := runCLI(t, "--db", a, "--machine", "m", "find", "--format", "paths")
	if code != 0 || out != filepath.Join(t2, "z")+"\n" {
		t.Errorf("machine m after --replace: %q", out)
	}
	if got := scansOK(t, a); got["m"] != 1 || got["other"] != 1 {
		t.Errorf("scans %v; want m 1 (the source's), other 1", got)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// fileSums returns the sha256 of each file of the catalog at path (-wal,
// -shm and -journal included when present).
func fileSums(t *testing.T, path string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		if b, err := os.ReadFile(p); err == nil {
			out[p] = sha256.Sum256(b)
		}
	}
	return out
}

// TestMergeRefusesBadSources: a truncated, damaged, foreign or missing file,
// a machine SRC does not hold, and the catalog itself are refused in one
// sentence, and the catalog is left byte for byte as it was.
func TestMergeRefusesBadSources(t *testing.T) {
	tree := newTree(t, map[string]string{"a": "a"})
	dir := t.TempDir()
	cat, good := filepath.Join(dir, "cat.db"), filepath.Join(dir, "good.db")
	scanAs(t, cat, "here", tree)
	many := map[string]string{}
	for i := range 300 {
		many[fmt.Sprintf("f%03d", i)] = strings.Repeat("x", i)
	}
	scanAs(t, good, "there", newTree(t, many))
	whole, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(dir, "foreign.db")
	x, _ := sql.Open(db.DriverName, "file:"+foreign)
	x.Exec("CREATE TABLE notes (body TEXT)")
	x.Close()
	damaged := slices.Clone(whole)
	for i := 4096 * 3; i < 4096*4 && i < len(damaged); i++ { // a page of the files table
		damaged[i] = 0x5a
	}
	for name, src := range map[string]string{
		"truncated": writeBytes(t, dir, "truncated.db", whole[:len(whole)/2]),
		"damaged":   writeBytes(t, dir, "damaged.db", damaged),
		"garbage":   writeBytes(t, dir, "garbage.db", []byte(strings.Repeat("not a catalog\n", 500))),
		"foreign":   foreign,
		"missing":   filepath.Join(dir, "missing.db"),
		"itself":    cat,
	} {
		t.Run(name, func(t *testing.T) {
			before := fileSums(t, cat)
			code, out, errOut := runCLI(t, "--db", cat, "merge", src)
			if code == 0 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "cannot merge") {
				t.Errorf("merge %s: exit %d, stdout %q, stderr %q; want one sentence refusing it", name, code, out, errOut)
			}
			if after := fileSums(t, cat); !maps(before, after) {
				t.Errorf("merge %s changed the catalog's files", name)
			}
		})
	}
	before := fileSums(t, cat)
	if code, _, errOut := runCLI(t, "--db", cat, "merge", good, "--machine", "nobody"); code == 0 || !strings.Contains(errOut, `no machine "nobody"`) {
		t.Errorf("merge --machine nobody: exit %d, %q", code, errOut)
	}
	if after := fileSums(t, cat); !maps(before, after) {
		t.Errorf("merge --machine nobody changed the catalog's files")
	}
}

func maps(a, b map[string][32]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func writeBytes(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestMergeSchema3Source merges a catalog an indexer of schema version 3
// left: its copy is upgraded, the source file is not touched.
func TestMergeSchema3Source(t *testing.T) {
	src := filepath.Join(t.TempDir(), "v3.db")
	dbtest.WriteOldCatalog(t, src, 3, func(exec func(q string, args ...any)) {
		exec(`INSERT INTO scans (id, machine, roots, started, finished, status, host, pid)
			VALUES (4, 'old', '["/v3"]', 1000, 2000, 'complete', 'h', 42)`)
		exec("INSERT INTO hashes (id, size, md5, sha1, sha256) VALUES (1, 5, ?, ?, ?)",
			strings.Repeat("a", 32), strings.Repeat("b", 40), strings.Repeat("c", 64))
		exec(`INSERT INTO files (machine, path, name, size, modified, scanned, operation, hash_id, scan_id, inode, device)
			VALUES ('old', '/v3/kept.txt', 'kept.txt', 5, 3000000000, 1000, 'ADD', 1, 4, 7, 8)`)
	})
	srcBefore := fileSums(t, src)
	cat := filepath.Join(t.TempDir(), "cat.db")
	scanAs(t, cat, "here", newTree(t, map[string]string{"a": "a"}))
	if out := mergeCLI(t, cat, src); out != "old: copied, 1 scans added, 1 files written, 0 kept\n" {
		t.Errorf("merge printed %q", out)
	}
	code, out, _ := runCLI(t, "--db", cat, "--machine", "old", "export")
	var e dto.Exported
	if err := json.Unmarshal([]byte(out), &e); code != 0 || err != nil {
		t.Fatalf("export: exit %d, %q: %v", code, out, err)
	}
	if e.Path != "/v3/kept.txt" || e.SHA256 != strings.Repeat("c", 64) || e.MD5 != strings.Repeat("a", 32) ||
		e.Modified != "1970-01-01T00:00:03Z" || e.Inode != 7 || e.ScanID == 0 {
		t.Errorf("merged row %+v", e)
	}
	if got := scansOK(t, cat); got["old"] != 1 {
		t.Errorf("scans %v; want old's scan", got)
	}
	if !maps(srcBefore, fileSums(t, src)) {
		t.Error("the merge changed its source")
	}
}
