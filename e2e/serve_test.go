package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"
)

// TestServeFollowsOtherProcesses runs `indexer serve` beside `indexer scan`
// and `indexer restore --yes` in other processes: the restore needs no
// --wait (the idle server does not hold the catalog), and the server's first
// answer after each process exits already shows what it did. SIGTERM then
// stops the server with exit 0.
func TestServeFollowsOtherProcesses(t *testing.T) {
	c := newCatalog(t)
	tree := filepath.Join(tempDir(t), "tree")
	writeFiles(t, tree, map[string]string{"a": "1", "b": "2"})
	c.mustRun(0, "scan", "-q", tree)
	backup := c.mustRun(0, "backup", "--json")
	var b struct{ Path string }
	if err := json.Unmarshal([]byte(backup.stdout), &b); err != nil {
		t.Fatal(err)
	}

	srv := c.command("serve", "--addr", "127.0.0.1:0")
	stderr, err := srv.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Process.Kill()
	base := serveBase(t, stderr)
	files := func() int64 {
		t.Helper()
		resp, err := http.Get(base + "/api/stats")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st struct{ Files int64 }
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
		return st.Files
	}
	if got := files(); got != 2 {
		t.Fatalf("server at start: %d files; want 2", got)
	}
	writeFiles(t, tree, map[string]string{"c": "3", "d/e": "4"})
	c.mustRun(0, "scan", "-q", tree)
	if got := files(); got != 4 {
		t.Errorf("server after a scan in another process: %d files; want 4", got)
	}
	c.mustRun(0, "restore", "--yes", b.Path)
	if got := files(); got != 2 {
		t.Errorf("server after a restore in another process: %d files; want 2", got)
	}
	writeFiles(t, tree, map[string]string{"f": "5"})
	c.mustRun(0, "scan", "-q", tree)
	if got := files(); got != 5 {
		t.Errorf("server after a scan of the restored catalog: %d files; want 5", got)
	}

	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve after SIGTERM: %v; want exit 0", err)
		}
	case <-time.After(hangLimit):
		t.Fatal("serve did not stop after SIGTERM")
	}
}

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// serveBase reads the server's stderr until it says where it listens and
// returns that base URL; the rest of stderr is drained so the server never
// blocks on it.
func serveBase(t *testing.T, stderr io.Reader) string {
	t.Helper()
	sc := bufio.NewScanner(stderr)
	var base string
	for sc.Scan() {
		if m := regexp.MustCompile(`at (http://\S+)/`).FindStringSubmatch(sc.Text()); m != nil {
			base = m[1]
			break
		}
	}
	if base == "" {
		t.Fatal("serve did not say where it listens")
	}
	go func() {
		for sc.Scan() {
		}
	}()
	return base
}
