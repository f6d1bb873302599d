package e2e

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// TestVersion: --version prints the module version and, when Go stamped
// them, the revision and commit time the binary was built from, as
// `go version -m` reads them from the binary; without them it says so.
func TestVersion(t *testing.T) {
	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	settings := map[string]string{}
	var modVersion string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(strings.TrimSpace(sc.Text()), "\t")
		switch {
		case len(f) >= 3 && f[0] == "mod":
			modVersion = f[2]
		case len(f) == 2 && f[0] == "build":
			if k, v, ok := strings.Cut(f[1], "="); ok {
				settings[k] = v
			}
		}
	}
	if modVersion == "" {
		t.Fatalf("go version -m printed no module line:\n%s", out)
	}

	r := execute(t, exec.Command(bin, "--version"))
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("--version: %s", r)
	}
	got := strings.TrimSpace(r.stdout)
	t.Log(got)
	if !strings.HasPrefix(got, "indexer version "+modVersion+" (") {
		t.Errorf("--version = %q, want it to start with the module version %q", got, modVersion)
	}
	if rev := settings["vcs.revision"]; rev != "" {
		for _, want := range []string{"revision " + rev, "committed " + settings["vcs.time"]} {
			if !strings.Contains(got, want) {
				t.Errorf("--version = %q, want it to say %q", got, want)
			}
		}
		if modified := strings.Contains(got, "uncommitted changes"); modified != (settings["vcs.modified"] == "true") {
			t.Errorf("--version = %q, but vcs.modified is %q", got, settings["vcs.modified"])
		}
	} else if !strings.Contains(got, "revision unknown") {
		t.Errorf("--version = %q for a binary without VCS information, want it to say the revision is unknown", got)
	}
}
