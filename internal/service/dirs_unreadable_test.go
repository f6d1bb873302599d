package service

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/indexer/indexer/internal/db"
)

const dirsUnreadableEnv = "INDEXER_TEST_DIRS_UNREADABLE"

// dirsUnreadableOutcome is what the child reports.
type dirsUnreadableOutcome struct {
	Euid     int        `json:"euid"`
	Failed   int64      `json:"failed"`
	Groups   [][]string `json:"groups"`
	Readable bool       `json:"readable"`
}

// dirsUnreadableScenario: b holds what a holds and a directory that this
// user cannot list, b/sub/locked. What the catalog holds of b is a's tree,
// but b is not a copy of a: it must not match.
func dirsUnreadableScenario(tb testing.TB, dir string) dirsUnreadableOutcome {
	out := dirsUnreadableOutcome{Euid: os.Geteuid()}
	base := filepath.Join(dir, "tree")
	tree(tb, filepath.Join(base, "a"), map[string]string{"x": "A", "sub/y": "B"})
	tree(tb, filepath.Join(base, "b"), map[string]string{"x": "A", "sub/y": "B", "sub/locked/z": "C"})
	locked := filepath.Join(base, "b", "sub", "locked")
	if err := os.Chmod(locked, 0); err != nil {
		tb.Fatal(err)
	}
	defer os.Chmod(locked, 0o755)
	if _, err := os.ReadDir(locked); err == nil {
		out.Readable = true
		return out
	}
	c, err := Open(context.Background(), filepath.Join(dir, "catalog", "index.db"), db.DefaultOptions(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	rep, err := c.Scan(context.Background(), []string{base}, ScanOptions{Machine: "m1"})
	if err != nil {
		tb.Fatal(err)
	}
	out.Failed = rep.Counts.Failed
	out.Groups = dirGroups(tb, c, base, tree0)
	out.Groups = append(out.Groups, dirGroups(tb, c, base, content0)...)
	return out
}

func TestDirsUnreadableSubdirectory(t *testing.T) {
	var out dirsUnreadableOutcome
	if os.Geteuid() != 0 {
		out = dirsUnreadableScenario(t, t.TempDir())
	} else {
		// Root lists every directory: run the scenario as nobody, in a
		// copy of this test binary (see runUnreadableAsNobody).
		base, err := os.MkdirTemp("", "indexer-dirs-unreadable-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(base) })
		if err := os.Chmod(base, 0o777); err != nil {
			t.Fatal(err)
		}
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(base, "dirs.test")
		if err := copyFile(self, bin, 0o755); err != nil {
			t.Fatal(err)
		}
		work := filepath.Join(base, "work")
		cmd := exec.Command(bin, "-test.run=^TestDirsUnreadableChild$", "-test.count=1")
		cmd.Dir = base
		cmd.Env = append(os.Environ(), dirsUnreadableEnv+"="+work)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		if output, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("child as uid %d: %v\n%s", nobody, err, output)
		}
		b, err := os.ReadFile(filepath.Join(work, "outcome.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
	}
	if out.Readable {
		t.Skip("a directory with mode 0 stays readable to this user, and it is not root")
	}
	if out.Euid == 0 || out.Failed != 1 {
		t.Fatalf("euid %d, %d failures: want a user that cannot list b/sub/locked, one failure", out.Euid, out.Failed)
	}
	if len(out.Groups) != 0 {
		t.Errorf("groups %q: want none, b is not held in full", out.Groups)
	}
}

// TestDirsUnreadableChild is the child process of TestDirsUnreadableSubdirectory.
func TestDirsUnreadableChild(t *testing.T) {
	work := os.Getenv(dirsUnreadableEnv)
	if work == "" {
		t.Skip("run by TestDirsUnreadableSubdirectory")
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	out := dirsUnreadableScenario(t, work)
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "outcome.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}
