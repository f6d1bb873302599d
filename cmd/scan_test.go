package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/service"
)

// runIndexer runs the command line args against a fresh command tree and
// returns the exit code and both outputs.
func runIndexer(t *testing.T, ctx context.Context, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	root, _ := NewRoot(&out, &errOut)
	code = run(ctx, root, args, &errOut)
	return code, out.String(), errOut.String()
}

func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// scanSummary is the documented --json summary.
type scanSummary struct {
	FilesSeen   *int64 `json:"files_seen"`
	Added       *int64 `json:"added"`
	Modified    *int64 `json:"modified"`
	Deleted     *int64 `json:"deleted"`
	Unchanged   *int64 `json:"unchanged"`
	Skipped     *int64 `json:"skipped"`
	Failed      *int64 `json:"failed"`
	BytesHashed *int64 `json:"bytes_hashed"`
	DurationMS  *int64 `json:"duration_ms"`
	Status      string `json:"status"`
	Failures    []struct {
		Path  string `json:"path"`
		Error string `json:"error"`
	} `json:"failures"`
}

func decodeSummary(t *testing.T, stdout string) (scanSummary, map[string]json.RawMessage) {
	t.Helper()
	var s scanSummary
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(stdout), &raw); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout)
	}
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"files_seen", "added", "modified", "deleted", "unchanged", "skipped",
		"failed", "bytes_hashed", "duration_ms", "status", "failures"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("summary lacks %q:\n%s", k, stdout)
		}
	}
	if string(raw["failures"]) == "null" {
		t.Error("failures is null, want a list")
	}
	return s, raw
}

func TestScanCommandJSON(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a.txt": "alpha", "sub/b.txt": "beta", "skip.tmp": "x"})
	dbPath := filepath.Join(t.TempDir(), "index.db")
	args := []string{"--db", dbPath, "--machine", "box", "--json", "scan", "--quiet", "--exclude", "*.tmp", dir}
	code, stdout, stderr := runIndexer(t, context.Background(), args...)
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	s, _ := decodeSummary(t, stdout)
	if s.Status != "complete" || *s.Added != 2 || *s.FilesSeen != 2 || *s.Skipped != 1 || *s.BytesHashed != 9 || len(s.Failures) != 0 {
		t.Fatalf("summary %s", stdout)
	}
	code, stdout, _ = runIndexer(t, context.Background(), args...)
	if s, _ := decodeSummary(t, stdout); code != ExitOK || *s.Unchanged != 2 || *s.Added != 0 {
		t.Fatalf("rescan: exit %d, summary %s", code, stdout)
	}
	// Without --json, one human summary on stdout.
	code, stdout, _ = runIndexer(t, context.Background(), "--db", dbPath, "--machine", "box", "scan", dir)
	if code != ExitOK || !strings.Contains(stdout, "complete") || !strings.Contains(stdout, "3 files seen") {
		t.Fatalf("text: exit %d, stdout %q", code, stdout)
	}
}

func TestScanCommandPartial(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"good.txt": "good", "bad.txt": "bad"})
	dbPath := filepath.Join(t.TempDir(), "index.db")
	c, err := service.Open(context.Background(), dbPath, db.DefaultOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = c.DB().WithWrite(func(w *sqlx.DB) error {
		_, err := w.Exec(`CREATE TRIGGER boom BEFORE INSERT ON files WHEN NEW.name = 'bad.txt'
			BEGIN SELECT RAISE(ABORT, 'injected'); END`)
		return err
	})
	c.Close()
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runIndexer(t, context.Background(), "--db", dbPath, "--machine", "box", "--json", "scan", dir)
	if code != ExitPartial {
		t.Fatalf("exit %d, want %d; stderr %s", code, ExitPartial, stderr)
	}
	s, _ := decodeSummary(t, stdout)
	bad := filepath.Join(dir, "bad.txt")
	if s.Status != "partial" || *s.Failed != 1 || *s.Added != 1 || len(s.Failures) != 1 ||
		s.Failures[0].Path != bad || !strings.Contains(s.Failures[0].Error, "injected") {
		t.Fatalf("summary %s", stdout)
	}
	if !strings.Contains(stderr, "1 file could not be indexed") {
		t.Fatalf("stderr %q", stderr)
	}
	// In text, the failed files go to stderr with the closing sentence, so
	// that a summary redirected to a file still leaves them in sight.
	if err := os.WriteFile(filepath.Join(dir, "good.txt"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runIndexer(t, context.Background(), "--db", dbPath, "--machine", "box", "scan", "-q", dir)
	if code != ExitPartial {
		t.Fatalf("text: exit %d, want %d; stderr %s", code, ExitPartial, stderr)
	}
	wantErr := "failed:\n  " + bad + ": "
	if !strings.HasPrefix(stderr, wantErr) || !strings.HasSuffix(stderr, "indexer: 1 file could not be indexed (listed above)\n") {
		t.Errorf("text: stderr %q, want the failures (%q...) then the closing sentence", stderr, wantErr)
	}
	if strings.Contains(stdout, bad) || !strings.Contains(stdout, "1 failed") {
		t.Errorf("text: stdout %q must hold the summary and not the failures", stdout)
	}
}

func TestScanCommandUsage(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"no path", []string{"scan"}, "at least one PATH"},
		{"unknown flag", []string{"scan", "--nope", dir}, "--nope"},
		{"malformed exclude", []string{"scan", "--exclude", "[oops", dir}, "[oops"},
		{"exclude that never matches", []string{"scan", "--exclude", "archive/tar", dir}, "can never match"},
		{"negative workers", []string{"scan", "--workers", "-1", dir}, "--workers"},
		{"negative readers", []string{"scan", "--readers", "-1", dir}, "--readers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dbPath := filepath.Join(t.TempDir(), "index.db")
			code, _, stderr := runIndexer(t, context.Background(), append([]string{"--db", dbPath, "--machine", "box"}, tc.args...)...)
			if code != ExitUsage || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q: want %d mentioning %q", code, stderr, ExitUsage, tc.want)
			}
			if _, err := os.Stat(dbPath); !os.IsNotExist(err) {
				t.Fatalf("a usage error created the catalog (%v)", err)
			}
		})
	}
}

func TestScanCommandErrors(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "index.db")
	missing := filepath.Join(t.TempDir(), "nope")
	code, stdout, stderr := runIndexer(t, context.Background(), "--db", dbPath, "--machine", "box", "scan", missing)
	if code != ExitError || !strings.Contains(stderr, missing) || stdout != "" {
		t.Fatalf("only a missing root: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	code, _, stderr = runIndexer(t, ctx, "--db", dbPath, "--machine", "box", "scan", t.TempDir())
	if code != ExitInterrupted {
		t.Fatalf("canceled: exit %d, stderr %q, want %d", code, stderr, ExitInterrupted)
	}
}
