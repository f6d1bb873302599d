package cmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/dto"
)

// TestDedupeCommand runs plan, a dry run, apply --json, and undo of a trash
// plan through the CLI.
func TestDedupeCommand(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a/one.txt": "same content", "b/two.txt": "same content", "c/three.txt": "same content"})
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(dir, "b", "two.txt"), old, old); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "index.db")
	run := func(code int, args ...string) string {
		t.Helper()
		got, out, errOut := runCLI(t, append([]string{"--db", db, "--machine", "box"}, args...)...)
		if got != code {
			t.Fatalf("%q: exit %d, want %d: %s", args, got, code, errOut)
		}
		return out
	}
	run(0, "scan", "-q", dir)
	plan := filepath.Join(t.TempDir(), "plan.json")
	trash := filepath.Join(dir, "trash")
	run(0, "dedupe", "plan", "--action", "trash", "--keep", "oldest", "-o", plan, dir)
	run(2, "dedupe", "plan", "--keep", "biggest", dir)
	dry := run(0, "dedupe", "apply", "--dry-run", "--trash", trash, plan)
	if strings.Count(dry, "trash ") != 2 || strings.Contains(dry, "two.txt") {
		t.Fatalf("dry run printed %q; want two trash lines, two.txt kept", dry)
	}
	if _, err := os.Stat(filepath.Join(dir, "a", "one.txt")); err != nil {
		t.Fatalf("the dry run acted: %v", err)
	}
	var rep dto.DedupeReport
	if err := json.Unmarshal([]byte(run(0, "--json", "dedupe", "apply", "--trash", trash, plan)), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Applied != 2 || rep.BytesReclaimed != 2*int64(len("same content")) || rep.Manifest == "" {
		t.Fatalf("apply --json = %+v", rep)
	}
	if out := run(0, "--json", "dupes"); strings.Contains(out, "one.txt") {
		t.Errorf("dupes still lists a trashed file: %s", out)
	}
	// Applied twice: everything is skipped, exit 3.
	run(3, "dedupe", "apply", "--trash", trash, plan)
	out := run(0, "dedupe", "undo", rep.Manifest)
	if strings.Count(out, "restore ") != 2 {
		t.Fatalf("undo printed %q", out)
	}
	for _, rel := range []string{"a/one.txt", "c/three.txt"} {
		if b, err := os.ReadFile(filepath.Join(dir, rel)); err != nil || string(b) != "same content" {
			t.Errorf("%s not restored: %q, %v", rel, b, err)
		}
	}
	// A delete plan needs --yes.
	run(0, "dedupe", "plan", "--action", "delete", "-o", plan, dir)
	run(2, "dedupe", "apply", plan)
	// A plan for another machine is refused.
	run(2, "--machine", "other", "dedupe", "apply", "--yes", plan)
}
