package cmd

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/indexer/indexer/internal/pgtest"
	"github.com/indexer/indexer/internal/service"
)

// TestForget runs on a catalog file and on a PostgreSQL catalog.
func TestForget(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testForget(t, filepath.Join(t.TempDir(), "index.db")) })
	t.Run("postgres", func(t *testing.T) { testForget(t, pgtest.URL(t)) })
}

func testForget(t *testing.T, db string) {
	dir := t.TempDir()
	tree := map[string]string{"keep/a.txt": "a", "keep/gone.txt": "gone"}
	for i := range 450 { // more than two transactions' worth
		tree[fmt.Sprintf("drop/f%03d.txt", i)] = fmt.Sprint(i)
	}
	writeTree(t, dir, tree)
	run := func(code int, args ...string) string {
		t.Helper()
		got, out, errOut := runCLI(t, append([]string{"--db", db, "--machine", "box"}, args...)...)
		if got != code {
			t.Fatalf("%q: exit %d, want %d: %s", args, got, code, errOut)
		}
		return out
	}
	run(0, "scan", "-q", dir)
	forgotten := func(args ...string) service.Forgotten {
		t.Helper()
		var f service.Forgotten
		if err := json.Unmarshal([]byte(run(0, append([]string{"--json", "forget"}, args...)...)), &f); err != nil {
			t.Fatal(err)
		}
		return f
	}
	if f := forgotten("--machine", "other", filepath.Join(dir, "drop")); f.Rows != 0 {
		t.Errorf("another machine's rows: forgot %d", f.Rows)
	}
	if f := forgotten(filepath.Join(dir, "drop")); f.Rows != 450 {
		t.Errorf("forget drop: %d rows, want 450", f.Rows)
	}
	if _, err := os.Stat(filepath.Join(dir, "drop", "f000.txt")); err != nil {
		t.Errorf("forget touched a file: %v", err)
	}
	if out := run(0, "find", "--format", "paths"); strings.Contains(out, "drop") || !strings.Contains(out, "a.txt") {
		t.Errorf("after forget, find lists %q", out)
	}

	if err := os.Remove(filepath.Join(dir, "keep", "gone.txt")); err != nil {
		t.Fatal(err)
	}
	run(0, "scan", "-q", filepath.Join(dir, "keep"))
	if f := forgotten("--deleted", "--older-than", "1d"); f.Rows != 0 {
		t.Errorf("--older-than 1d forgot %d rows seen just now", f.Rows)
	}
	if out := run(0, "forget", "--deleted"); out != "forgot 1 row (0 entries inside archives)\n" {
		t.Errorf("forget --deleted printed %q", out)
	}
	if out := run(0, "find", "--deleted", "--format", "paths"); out != filepath.Join(dir, "keep", "a.txt")+"\n" {
		t.Errorf("after forget --deleted, find --deleted lists %q", out)
	}
	for _, args := range [][]string{{"forget"}, {"forget", "--deleted", dir}, {"forget", "--older-than", "1d", dir},
		{"forget", "--deleted", "--older-than", "soon"}} {
		run(ExitUsage, args...)
	}
}

func TestParseAge(t *testing.T) {
	for in, want := range map[string]string{"30d": "720h0m0s", "1d12h": "36h0m0s", "90m": "1h30m0s", "0d": "0s"} {
		d, err := parseAge(in)
		if err != nil || d.String() != want {
			t.Errorf("parseAge(%q) = %v, %v; want %s", in, d, err, want)
		}
	}
	for _, in := range []string{"", "d", "-1d", "x", "1dd", "1d-1h"} {
		if _, err := parseAge(in); err == nil {
			t.Errorf("parseAge(%q) accepted", in)
		}
	}
}
