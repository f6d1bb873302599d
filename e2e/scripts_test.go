package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// scriptTree writes duplicates with names that break line-based tools, plus
// unique and empty files, and returns its root. It has no hard links: jdupes
// treats those as non-duplicates where indexer lists them as linked.
func scriptTree(t *testing.T) string {
	root := filepath.Join(tempDir(t), "tree")
	files := map[string]string{
		"new\nline":          "group A\n",
		"bad\xff\xfeutf8":    "group A\n",
		"-rf":                "group A\n",
		"sub/--help":         "group B, longer so it comes first\n",
		"sub/ leading sp":    "group B, longer so it comes first\n",
		"sub/tab\there":      "group C\n",
		"sub/deep/tab\there": "group C\n",
		"unique.txt":         "only me\n",
		"empty1":             "",
		"empty2":             "",
	}
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatalf("create %q: %v", p, err)
		}
	}
	return root
}

// nulGroups reads groups printed with -0: each path ended by NUL, each group
// by one more NUL. It fails the test on a stray byte after the last group.
func nulGroups(t *testing.T, out string) [][]string {
	t.Helper()
	if out != "" && !strings.HasSuffix(out, "\x00\x00") {
		t.Fatalf("-0 output does not end a group with an empty record: %q", out)
	}
	var groups [][]string
	for _, g := range strings.Split(strings.TrimSuffix(out, "\x00\x00"), "\x00\x00") {
		if g != "" {
			groups = append(groups, strings.Split(g, "\x00"))
		}
	}
	return groups
}

// sorted returns the groups with their paths sorted, groups sorted too: the
// same duplicates whatever order a tool prints them in.
func sorted(groups [][]string) [][]string {
	out := make([][]string, len(groups))
	for i, g := range groups {
		out[i] = append([]string(nil), g...)
		sort.Strings(out[i])
	}
	sort.Slice(out, func(i, j int) bool { return strings.Join(out[i], "\x00") < strings.Join(out[j], "\x00") })
	return out
}

// jdupes returns the path of jdupes, skipping the test when it is missing,
// except on CI (CI=true), which must install it.
func jdupes(t *testing.T) string {
	p, err := exec.LookPath("jdupes")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("jdupes is not installed; CI must install it (apt-get install -y jdupes)")
		}
		t.Skip("jdupes is not installed")
	}
	return p
}

// xargs0 feeds out to `xargs -0` running a shell loop that checks each
// non-empty argument names a regular file and prints it back NUL-ended.
func xargs0(t *testing.T, out string) string {
	t.Helper()
	cmd := exec.Command("xargs", "-0", "sh", "-c",
		`for f do [ -z "$f" ] && continue; [ -f "$f" ] || { printf 'no file %s\n' "$f" >&2; exit 1; }; printf '%s\0' "$f"; done`, "sh")
	cmd.Stdin = strings.NewReader(out)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("xargs -0: %v: %s", err, stderr.String())
	}
	return stdout.String()
}

// TestDupesOutputForScripts checks that the outputs meant for programs name
// every file byte for byte: -0 read back by xargs -0 names real files, the
// fdupes format is the same paths with newlines, and both list what jdupes
// -r lists on the same tree.
func TestDupesOutputForScripts(t *testing.T) {
	root := scriptTree(t)
	c := newCatalog(t)
	c.mustRun(0, "scan", "-q", root)

	zero := c.mustRun(0, "dupes", "-0").stdout
	groups := nulGroups(t, zero)
	if len(groups) != 3 {
		t.Fatalf("%d groups in %q, want 3", len(groups), zero)
	}
	var paths []string
	for _, g := range groups {
		paths = append(paths, g...)
	}
	if got := xargs0(t, zero); got != strings.Join(paths, "\x00")+"\x00" {
		t.Errorf("xargs -0 read back\n%q\nwant\n%q", got, strings.Join(paths, "\x00")+"\x00")
	}

	var want strings.Builder
	for _, g := range groups {
		for _, p := range g {
			want.WriteString(p + "\n")
		}
		want.WriteString("\n")
	}
	if got := c.mustRun(0, "dupes", "--format", "fdupes").stdout; got != want.String() {
		t.Errorf("fdupes format\n%q\nwant the -0 paths with newlines\n%q", got, want.String())
	}

	// jdupes 1.21 prints the separator after a group only when more files
	// follow in its own list, so its last group may lack it; fdupes and
	// indexer end every group.
	j := exec.Command(jdupes(t), "-r", "-0", "-q", root)
	jout, err := j.Output()
	if err != nil {
		t.Fatalf("jdupes: %v", err)
	}
	if !bytes.HasSuffix(jout, []byte("\x00\x00")) {
		jout = append(jout, 0)
	}
	if got, want := sorted(groups), sorted(nulGroups(t, string(jout))); !reflect.DeepEqual(got, want) {
		t.Errorf("indexer dupes -0\n%q\njdupes -r -0\n%q", got, want)
	}
	j = exec.Command(jdupes(t), "-r", "-q", root)
	jout, err = j.Output()
	if err != nil {
		t.Fatalf("jdupes: %v", err)
	}
	if !bytes.HasSuffix(jout, []byte("\n\n")) {
		jout = append(jout, '\n')
	}
	fd := c.mustRun(0, "dupes", "--format", "fdupes").stdout
	if len(jout) != len(fd) || !sameBytes(string(jout), fd) {
		t.Errorf("indexer dupes --format fdupes\n%q\njdupes -r\n%q", fd, jout)
	}
}

// sameBytes tells whether a and b hold the same lines, in any order: the
// group and file order of two tools may differ, not the bytes they print.
func sameBytes(a, b string) bool {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	sort.Strings(la)
	sort.Strings(lb)
	return reflect.DeepEqual(la, lb)
}

// TestFindOutputForScripts checks find -0 and --format paths name every
// file byte for byte.
func TestFindOutputForScripts(t *testing.T) {
	root := scriptTree(t)
	c := newCatalog(t)
	c.mustRun(0, "scan", "-q", root)
	var want []string
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			want = append(want, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(want)

	zero := c.mustRun(0, "find", "-0").stdout
	back := xargs0(t, zero)
	if back != zero {
		t.Errorf("xargs -0 read back\n%q\nfrom\n%q", back, zero)
	}
	got := strings.Split(strings.TrimSuffix(zero, "\x00"), "\x00")
	sort.Strings(got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("find -0\n%q\nwant\n%q", got, want)
	}
	if lines := c.mustRun(0, "find", "--format", "paths").stdout; lines != strings.ReplaceAll(zero, "\x00", "\n") {
		t.Errorf("--format paths\n%q\nwant the -0 paths with newlines", lines)
	}
}
