package service

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runScript writes plan's script for action and runs it with /bin/sh.
func runScript(t *testing.T, f *dedupeFixture, script []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "dedupe.sh")
	if err := os.WriteFile(p, script, 0o700); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("/bin/sh", p).CombinedOutput()
	if err != nil {
		t.Fatalf("script failed: %v\n%s\n--- script:\n%s", err, out, script)
	}
	return string(out)
}

// TestDedupeScriptOddNames: the script quotes any byte of a name, a
// newline, a quote and a leading dash included; it acts only on files equal
// to the kept one, and running it twice is harmless.
func TestDedupeScriptOddNames(t *testing.T) {
	odd := []string{"-n\nnew'line $HOME.bin", "-rf", "a b/\"q\" `x`.bin"}
	for _, action := range []string{ActionHardlink, ActionTrash, ActionDelete} {
		t.Run(action, func(t *testing.T) {
			f := newDedupeFixture(t, append([]string{"keep.bin"}, append(odd, "changed.bin")...)...)
			p := f.plan(t, action, "oldest")
			if err := os.WriteFile(f.path("changed.bin"), []byte("other"), 0o644); err != nil {
				t.Fatal(err)
			}
			var script bytes.Buffer
			trash := filepath.Join(f.root, "trash")
			if err := WriteScript(&script, &p, trash); err != nil {
				t.Fatal(err)
			}
			out := runScript(t, f, script.Bytes())
			if !strings.Contains(out, "changed.bin") {
				t.Errorf("the changed file was not reported skipped: %q", out)
			}
			kept := inodeOf(t, f.path("keep.bin"))
			for _, rel := range odd {
				_, err := os.Lstat(f.path(rel))
				switch action {
				case ActionHardlink:
					if err != nil || inodeOf(t, f.path(rel)) != kept {
						t.Errorf("%q was not linked to the kept file: %v", rel, err)
					}
				default:
					if !os.IsNotExist(err) {
						t.Errorf("%q is still there: %v", rel, err)
					}
				}
			}
			if got := string(mustRead(t, f.path("changed.bin"))); got != "other" {
				t.Errorf("changed.bin was acted on: %q", got)
			}
			if !bytes.Equal(mustRead(t, f.path("keep.bin")), f.data) {
				t.Error("the kept file changed")
			}
			if action == ActionTrash {
				moved, _ := filepath.Glob(filepath.Join(trash, "*", "*"))
				if len(moved) != len(odd) {
					t.Errorf("trash holds %q; want the %d odd names", moved, len(odd))
				}
			}
			runScript(t, f, script.Bytes()) // a second run changes nothing and succeeds
			if !bytes.Equal(mustRead(t, f.path("keep.bin")), f.data) {
				t.Error("the second run changed the kept file")
			}
		})
	}
}
