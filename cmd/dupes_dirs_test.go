package cmd

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDupesDirsCommand(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	writeTree(t, base, map[string]string{"a/x": "AAAA", "a/s/y": "BB", "b/x": "AAAA", "b/s/y": "BB",
		"c/p": "AAAA", "c/q/r": "BB", "big/x": "AAAA", "big/y": "BB", "big/z": "CC"})
	db := filepath.Join(t.TempDir(), "index.db")
	if code, _, errOut := runIndexer(t, ctx, "--db", db, "--machine", "m1", "scan", "-q", base); code != 0 {
		t.Fatalf("scan exit %d: %s", code, errOut)
	}
	code, out, errOut := runIndexer(t, ctx, "--db", db, "dupes", "--dirs", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got struct {
		Groups []struct {
			Digest      string `json:"digest"`
			Size        int64  `json:"size"`
			Files       int64  `json:"files"`
			Reclaimable int64  `json:"reclaimable"`
			Dirs        []struct{ Machine, Path string }
		} `json:"groups"`
		GroupsTotal      int64 `json:"groups_total"`
		DirsTotal        int64 `json:"dirs_total"`
		ReclaimableTotal int64 `json:"reclaimable_total"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(got.Groups) != 1 || len(got.Groups[0].Digest) != 64 || got.Groups[0].Size != 6 || got.Groups[0].Files != 2 ||
		got.Groups[0].Reclaimable != 6 || got.GroupsTotal != 1 || got.DirsTotal != 2 || got.ReclaimableTotal != 6 {
		t.Fatalf("got %+v", got)
	}
	if d := got.Groups[0].Dirs; d[0].Path != filepath.Join(base, "a") || d[1].Path != filepath.Join(base, "b") || d[0].Machine != "m1" {
		t.Errorf("dirs %+v: want a and b of m1", d)
	}
	_, out, _ = runIndexer(t, ctx, "--db", db, "dupes", "--dirs", "--content", "--format", "fdupes")
	want := strings.Join([]string{filepath.Join(base, "a"), filepath.Join(base, "b"), filepath.Join(base, "c"), "", ""}, "\n")
	if out != want {
		t.Errorf("content, fdupes: %q, want %q", out, want)
	}
	_, out, _ = runIndexer(t, ctx, "--db", db, "dupes", "--dirs", "--subset")
	if !strings.Contains(out, filepath.Join(base, "a")+" (2 files, 6 B) is within "+filepath.Join(base, "big")+", which has 1 more file\n") {
		t.Errorf("subset: %q", out)
	}
	for _, args := range [][]string{{"--content"}, {"--dirs", "--content", "--subset"}, {"--dirs", "--include-archived"}, {"--dirs", "--subset", "--format", "fdupes"}} {
		if code, _, _ := runIndexer(t, ctx, append([]string{"--db", db, "dupes"}, args...)...); code != 2 {
			t.Errorf("dupes %v: exit %d, want 2", args, code)
		}
	}
}

// TestDupesDirsExactFormats checks that --dirs --format fdupes and -0 are
// exact formats, as dupes' own: names byte for byte, NUL-separated with -0,
// one name per copy, and refused over several machines without --machine.
func TestDupesDirsExactFormats(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	bad, nl := "bad\xffname", "new\nline"
	writeTree(t, base, map[string]string{bad + "/x": "AAAA", bad + "/y": "BB", nl + "/x": "AAAA", nl + "/y": "BB",
		"h1/x": "CCC", "h1/y": "DD"})
	// h2 holds hard links of h1's files: the same files, no second copy.
	for _, n := range []string{"x", "y"} {
		if err := os.MkdirAll(filepath.Join(base, "h2"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Link(filepath.Join(base, "h1", n), filepath.Join(base, "h2", n)); err != nil {
			t.Fatal(err)
		}
	}
	db := filepath.Join(t.TempDir(), "index.db")
	if code, _, errOut := runIndexer(t, ctx, "--db", db, "--machine", "m1", "scan", "-q", base); code != 0 {
		t.Fatalf("scan exit %d: %s", code, errOut)
	}
	want := filepath.Join(base, bad) + "\x00" + filepath.Join(base, nl) + "\x00\x00"
	if code, out, errOut := runIndexer(t, ctx, "--db", db, "dupes", "--dirs", "-0"); code != 0 || out != want {
		t.Errorf("dupes --dirs -0: exit %d, stderr %q, stdout %q, want %q", code, errOut, out, want)
	}
	want = strings.ReplaceAll(want, "\x00", "\n")
	if code, out, errOut := runIndexer(t, ctx, "--db", db, "dupes", "--dirs", "--format", "fdupes"); code != 0 || out != want {
		t.Errorf("dupes --dirs --format fdupes: exit %d, stderr %q, stdout %q, want %q", code, errOut, out, want)
	}
	if code, _, errOut := runIndexer(t, ctx, "--db", db, "--machine", "m2", "scan", "-q", filepath.Join(base, "h1")); code != 0 {
		t.Fatalf("scan as m2: exit %d: %s", code, errOut)
	}
	for _, args := range [][]string{{"-0"}, {"--format", "fdupes"}} {
		code, out, errOut := runIndexer(t, ctx, append([]string{"--db", db, "dupes", "--dirs"}, args...)...)
		if code != 2 || out != "" || !strings.Contains(errOut, "pass --machine NAME") {
			t.Errorf("dupes --dirs %q over two machines: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
}
