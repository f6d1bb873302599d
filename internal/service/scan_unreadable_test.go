package service

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
)

// The unreadable-entries scenario needs a user that permissions apply to.
// Root reads everything, and these machines and CI run as root, so there the
// test re-executes its own binary as nobody (65534) to run the scenario, and
// checks the outcome that child prints.
const (
	unreadableEnv = "INDEXER_TEST_UNREADABLE_DIR"
	nobody        = 65534
)

// unreadableOutcome is what the scenario reports, as JSON across processes.
type unreadableOutcome struct {
	Euid     int               `json:"euid"`
	Status   string            `json:"status"`
	Counts   dto.ScanCounts    `json:"counts"`
	Failures map[string]string `json:"failures"` // relative path → error
	Ops      map[string]string `json:"ops"`      // relative path → operation
	// Readable is set when a file made unreadable could still be read: the
	// scenario tests nothing then.
	Readable bool `json:"readable"`
}

// unreadableScenario builds a tree in dir, scans it, makes a file and two
// directories unreadable in different ways, and scans again.
func unreadableScenario(tb testing.TB, dir string) (unreadableOutcome, error) {
	out := unreadableOutcome{Euid: os.Geteuid()}
	tree := filepath.Join(dir, "tree")
	files := []string{"ok.txt", "secret.txt", "locked/inner.txt", "locked/deeper/x.txt",
		"noexec/g.txt", "noexec/sub/f.txt"}
	for _, f := range files {
		p := filepath.Join(tree, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return out, err
		}
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			return out, err
		}
	}
	c, err := Open(context.Background(), filepath.Join(dir, "catalog", "index.db"), db.DefaultOptions(), nil)
	if err != nil {
		return out, err
	}
	defer c.Close()
	if _, err := c.Scan(context.Background(), []string{tree}, ScanOptions{Machine: "m1"}); err != nil {
		return out, err
	}
	// secret.txt cannot be opened; locked/ cannot be listed; noexec/ can be
	// listed but nothing in it can be stat'ed.
	for f, mode := range map[string]os.FileMode{"secret.txt": 0, "locked": 0, "noexec": 0o600} {
		if err := os.Chmod(filepath.Join(tree, f), mode); err != nil {
			return out, err
		}
	}
	defer func() {
		for _, f := range []string{"secret.txt", "locked", "noexec"} {
			os.Chmod(filepath.Join(tree, f), 0o755)
		}
	}()
	if _, err := os.ReadFile(filepath.Join(tree, "secret.txt")); err == nil {
		out.Readable = true
		return out, nil
	}
	rep, err := c.Scan(context.Background(), []string{tree}, ScanOptions{Machine: "m1"})
	if err != nil {
		return out, err
	}
	out.Status, out.Counts = string(rep.Status), rep.Counts
	out.Failures = map[string]string{}
	for _, f := range rep.Failures {
		rel, _ := filepath.Rel(tree, f.Path)
		out.Failures[rel] = f.Err.Error()
	}
	out.Ops = map[string]string{}
	for p, r := range dumpFiles(tb, c) {
		rel, _ := filepath.Rel(tree, p)
		out.Ops[rel] = r.Op
	}
	return out, nil
}

func TestScanUnreadable(t *testing.T) {
	var out unreadableOutcome
	if os.Geteuid() == 0 {
		out = runUnreadableAsNobody(t)
	} else {
		dir := t.TempDir()
		var err error
		if out, err = unreadableScenario(t, dir); err != nil {
			t.Fatal(err)
		}
	}
	if out.Readable {
		t.Skip("files with mode 0 stay readable to this user (CAP_DAC_OVERRIDE?), and it is not root, so no unprivileged user can be run")
	}
	if out.Euid == 0 {
		t.Fatal("the scenario ran as root: it proves nothing")
	}
	if out.Status != string(dto.ScanPartial) {
		t.Errorf("status %s, want partial", out.Status)
	}
	// Every unreadable entry is named with its cause.
	for _, rel := range []string{"secret.txt", "locked", "noexec/g.txt", "noexec/sub"} {
		if msg, ok := out.Failures[rel]; !ok || !strings.Contains(msg, "permission denied") {
			t.Errorf("failure for %s: %q, want permission denied", rel, msg)
		}
	}
	if len(out.Failures) != 4 || out.Counts.Failed != 4 {
		t.Errorf("failures %v, failed %d: want exactly 4", out.Failures, out.Counts.Failed)
	}
	// Nothing that could not be seen became DEL.
	for _, rel := range []string{"ok.txt", "secret.txt", "locked/inner.txt", "locked/deeper/x.txt", "noexec/g.txt", "noexec/sub/f.txt"} {
		if out.Ops[rel] != string(dto.OpAdd) {
			t.Errorf("%s: %q, want ADD", rel, out.Ops[rel])
		}
	}
	if out.Counts.Deleted != 0 || out.Counts.Unchanged != 1 {
		t.Errorf("counts %+v: want ok.txt unchanged, nothing deleted", out.Counts)
	}
}

// runUnreadableAsNobody runs the scenario in a copy of this test binary as
// user nobody, in a directory that user can write, and returns its outcome.
func runUnreadableAsNobody(t *testing.T) unreadableOutcome {
	t.Helper()
	// t.TempDir's parent is private to root; nobody needs its own way in.
	base, err := os.MkdirTemp("", "indexer-unreadable-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o777); err != nil {
		t.Fatal(err)
	}
	// The test binary lives in go's private build directory: copy it out.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(base, "scan.test")
	if err := copyFile(self, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(base, "work")
	cmd := exec.Command(bin, "-test.run=^TestScanUnreadableChild$", "-test.count=1")
	cmd.Dir = base
	cmd.Env = append(os.Environ(), unreadableEnv+"="+work)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	output, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child as uid %d: %v\n%s", nobody, err, output)
	}
	b, err := os.ReadFile(filepath.Join(work, "outcome.json"))
	if err != nil {
		t.Fatalf("child wrote no outcome: %v\n%s", err, output)
	}
	var out unreadableOutcome
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestScanUnreadableChild is the child process of TestScanUnreadable.
func TestScanUnreadableChild(t *testing.T) {
	work := os.Getenv(unreadableEnv)
	if work == "" {
		t.Skip("helper process for TestScanUnreadable")
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := unreadableScenario(t, work)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "outcome.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
