package cmd

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/indexer/indexer/internal/dto"
)

// runCLIStdin is runCLI with stdin reading from in.
func runCLIStdin(t *testing.T, in string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	for _, v := range []string{"INDEXER_DB", "INDEXER_MACHINE"} {
		t.Setenv(v, "")
	}
	var out, errb bytes.Buffer
	root, a := NewRoot(&out, &errb)
	a.stdin = strings.NewReader(in)
	code = run(t.Context(), root, args, &errb)
	return code, out.String(), errb.String()
}

// TestLookupOwnFileIsNotFound is issue 23's `lookup photo.jpg && rm photo.jpg`:
// a file catalogued once, under its own name, has no other copy.
func TestLookupOwnFileIsNotFound(t *testing.T) {
	dir := t.TempDir()
	photo := filepath.Join(dir, "photos", "photo.jpg")
	if err := os.MkdirAll(filepath.Dir(photo), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(photo, []byte("the only copy\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "index.db")
	if code, _, errOut := runCLI(t, "--db", db, "--machine", "here", "scan", "-q", filepath.Dir(photo)); code != 0 {
		t.Fatalf("scan: exit %d: %s", code, errOut)
	}
	code, out, errOut := runCLI(t, "--db", db, "--machine", "here", "lookup", photo)
	if code != 1 {
		t.Errorf("lookup of the only copy: exit %d, want 1\n%s%s", code, out, errOut)
	}
	if want := photo + ": not found\n  this file is catalogued at " + photo + "\n"; out != want {
		t.Errorf("lookup printed %q, want %q", out, want)
	}
	// A copy elsewhere on this machine counts while it is there, as catalogued.
	copyPath := filepath.Join(dir, "photos", "copy.jpg")
	if err := os.WriteFile(copyPath, []byte("the only copy\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, "--db", db, "--machine", "here", "scan", "-q", filepath.Dir(photo)); code != 0 {
		t.Fatalf("scan: exit %d: %s", code, errOut)
	}
	if code, out, errOut := runCLI(t, "--db", db, "--machine", "here", "lookup", photo); code != 0 || !strings.Contains(out, "found in 1 place\n  "+copyPath+"\n") {
		t.Errorf("lookup with a copy: exit %d, want 0\n%s%s", code, out, errOut)
	}
	if err := os.Remove(copyPath); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCLI(t, "--db", db, "--machine", "here", "lookup", photo)
	if code != 1 || !strings.Contains(out, "catalogued at "+copyPath+", but gone since the last scan: not counted") {
		t.Errorf("lookup after the copy was removed: exit %d, want 1 and the copy shown as gone\n%s", code, out)
	}
	code, out, _ = runCLI(t, "--db", db, "--machine", "here", "--json", "lookup", "--no-check", photo)
	var got []dto.LookupResult
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != 0 {
		t.Fatalf("lookup --no-check --json: exit %d, %v: %s", code, err, out)
	}
	if len(got) != 1 || !got[0].Found || len(got[0].Locations) != 1 || got[0].Locations[0].Check != dto.CheckSkipped ||
		len(got[0].Self) != 1 || got[0].Self[0].Path != photo {
		t.Errorf("lookup --no-check --json: %+v", got)
	}
}

func TestLookupNamesFromStdin(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "index.db")
	tree := filepath.Join(dir, "tree")
	names := map[string]string{"a.txt": "alpha\n", "new\nline.txt": "beta\n", "-dash": "gamma\n"}
	if err := os.MkdirAll(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	for n, c := range names {
		if err := os.WriteFile(filepath.Join(tree, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if code, _, errOut := runCLI(t, "--db", db, "--machine", "m", "scan", "-q", tree); code != 0 {
		t.Fatalf("scan: exit %d: %s", code, errOut)
	}
	// Copies outside the tree, looked up: each is found once, in the tree.
	copies := filepath.Join(dir, "copies")
	if err := os.MkdirAll(copies, 0o755); err != nil {
		t.Fatal(err)
	}
	for n, c := range names {
		if err := os.WriteFile(filepath.Join(copies, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a, nl, dash := filepath.Join(copies, "a.txt"), filepath.Join(copies, "new\nline.txt"), filepath.Join(copies, "-dash")
	code, out, errOut := runCLIStdin(t, a+"\x00"+nl+"\x00"+dash+"\x00", "--db", db, "--machine", "elsewhere", "--json", "lookup", "-0", "-")
	var got []dto.LookupResult
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != 0 {
		t.Fatalf("lookup -0 -: exit %d, %v\n%s%s", code, err, out, errOut)
	}
	if len(got) != 3 || got[0].File != a || got[1].File != nl || got[2].File != dash || !got[1].Found {
		t.Errorf("lookup -0 - looked up %+v, want a.txt, new\\nline.txt, -dash, all found", got)
	}
	// One per line; an empty line is no name.
	code, out, errOut = runCLIStdin(t, a+"\n\n"+dash+"\n", "--db", db, "--machine", "elsewhere", "lookup", "-")
	if code != 0 || strings.Count(out, ": found in 1 place\n") != 2 {
		t.Errorf("lookup -: exit %d\n%s%s", code, out, errOut)
	}
	// One machine in the catalog: no "machine:" prefix.
	if strings.Contains(out, "m:"+filepath.Join(tree, "a.txt")) || !strings.Contains(out, filepath.Join(tree, "a.txt")) {
		t.Errorf("lookup prefixed the machine although the catalog holds one:\n%s", out)
	}
	code, _, errOut = runCLI(t, "--db", db, "lookup")
	if code != 2 || !strings.Contains(errOut, "lookup needs at least one FILE, or - to read names from stdin (see 'indexer lookup --help')") {
		t.Errorf("lookup without FILE: exit %d, stderr %q", code, errOut)
	}
}

// TestLookupCountsCopiesNotNames checks that names of one file count as one
// place, as dupes counts copies (docs/safety.md): real/sub/f.txt scanned
// also through the symlinked directory link/ is one copy under two names.
func TestLookupCountsCopiesNotNames(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"real/sub/f.txt": "one file\n", "new.txt": "one file\n"})
	link := filepath.Join(dir, "link")
	if err := os.Symlink(filepath.Join(dir, "real"), link); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "index.db")
	for _, root := range []string{filepath.Join(dir, "real"), link} {
		if code, _, errOut := runCLI(t, "--db", db, "--machine", "box", "scan", "-q", root); code != 0 {
			t.Fatalf("scan %s: exit %d: %s", root, code, errOut)
		}
	}
	code, out, errOut := runCLI(t, "--db", db, "--machine", "box", "lookup", filepath.Join(dir, "new.txt"))
	want := filepath.Join(dir, "new.txt") + ": found in 1 place (2 names)\n" +
		"  " + filepath.Join(link, "sub", "f.txt") + "  [linked]\n" +
		"  " + filepath.Join(dir, "real", "sub", "f.txt") + "  [linked]\n"
	if code != 0 || out != want {
		t.Errorf("lookup: exit %d, stderr %q, stdout\n%s\nwant\n%s", code, errOut, out, want)
	}
	_, out, _ = runCLI(t, "--db", db, "--machine", "box", "lookup", "--json", filepath.Join(dir, "new.txt"))
	var res []dto.LookupResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res) != 1 {
		t.Fatalf("lookup --json: %v: %s", err, out)
	}
	if r := res[0]; r.Copies != 1 || len(r.Locations) != 2 || r.Locations[0].Link != 1 || r.Locations[1].Link != 1 {
		t.Errorf("lookup --json: %+v, want 1 copy under 2 names with link 1", r)
	}
}
