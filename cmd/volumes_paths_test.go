package cmd

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/volume/volumetest"
)

// TestVolumePaths: export, verify and --under take a volume's rows where
// the volume is mounted now: sha256sum -c checks the export, --under
// matches the mount point and not a host path equal to a volume's own
// path; while it is unplugged, export in a *sum format refuses, jsonl keeps
// the volume's paths, and verify says its files were not checked.
func TestVolumePaths(t *testing.T) {
	img := volumetest.Image(t, "ext4", "PATHS")
	db := filepath.Join(t.TempDir(), "index.db")
	cli := func(args ...string) (int, string, string) {
		t.Helper()
		return runCLI(t, append([]string{"--db", db}, args...)...)
	}
	dir, unplug := volumetest.Mount(t, img, "drive")
	for name, data := range map[string]string{"a.txt": "alpha", "p/b.jpg": "bravo", "p/c.jpg": "bravo"} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond) // out of the scan's racy window
	if code, out, stderr := cli("scan", "-q", "--volume", dir); code != ExitOK {
		t.Fatalf("scan --volume: exit %d: %s%s", code, out, stderr)
	}
	_, out, _ := cli("volumes", "--json")
	machine := between(out, `"machine": "`, `"`)
	if !strings.HasPrefix(machine, "vol:") {
		t.Fatalf("no volume's machine in %s", out)
	}

	code, sums, stderr := cli("export", "--machine", machine, "--format", "sha256sum")
	if code != ExitOK || !strings.Contains(sums, "  "+filepath.Join(dir, "a.txt")+"\n") {
		t.Fatalf("export --format sha256sum: exit %d, %q, %s", code, sums, stderr)
	}
	file := filepath.Join(t.TempDir(), "drive.sha256")
	if err := os.WriteFile(file, []byte(sums), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("sha256sum", "-c", file).CombinedOutput(); err != nil {
		t.Errorf("sha256sum -c: %v: %s", err, out)
	}
	if code, out, _ := cli("verify", "--machine", machine); code != ExitOK || !strings.Contains(out, "verified 3 files") || !strings.Contains(out, "3 ok") {
		t.Errorf("verify of the mounted volume: exit %d, %q", code, out)
	}
	if code, out, _ := cli("find", "--under", filepath.Join(dir, "p")); code != ExitOK || strings.Count(out, "\n") != 2 ||
		!strings.Contains(out, "[PATHS] /p/b.jpg ("+filepath.Join(dir, "p", "b.jpg")+")\n") {
		t.Errorf("find --under %s/p: exit %d, %q", dir, code, out)
	}
	if _, out, _ := cli("find", "--under", "/p"); strings.Contains(out, "b.jpg") {
		t.Errorf("find --under /p lists the volume's /p: %q", out)
	}
	if code, out, _ := cli("dupes", "--under", dir); code != ExitOK || !strings.Contains(out, "[PATHS] /p/b.jpg") {
		t.Errorf("dupes --under %s: exit %d, %q", dir, code, out)
	}

	unplug()
	code, out, stderr = cli("export", "--machine", machine, "--format", "md5sum")
	if code == ExitOK || out != "" || !strings.Contains(stderr, "volume PATHS is not mounted") {
		t.Errorf("export --format md5sum unplugged: exit %d, %q, %q; want a refusal", code, out, stderr)
	}
	if code, out, _ := cli("export", "--machine", machine, "a.txt"); code != ExitOK || !strings.Contains(out, `"path":"/a.txt"`) {
		t.Errorf("export jsonl unplugged: exit %d, %q", code, out)
	}
	code, out, _ = cli("verify", "--machine", machine)
	if code != ExitOK || !strings.Contains(out, "not checked: 3 files on volumes that are not mounted") || strings.Contains(out, "missing  ") {
		t.Errorf("verify unplugged: exit %d, %q", code, out)
	}
}

// between returns the text of s between the first from and the next to.
func between(s, from, to string) string {
	_, rest, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, to)
	return v
}
