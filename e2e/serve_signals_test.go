package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startServe starts `indexer serve` with args and env added to the test's
// environment and returns the process and its base URL.
func startServe(t *testing.T, c *catalog, env []string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	srv := c.command(append([]string{"serve"}, args...)...)
	srv.Env = append(srv.Env, env...)
	stderr, err := srv.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	return srv, serveBase(t, stderr)
}

// stopWith sends sig to the server and wants it to exit 0.
func stopWith(t *testing.T, srv *exec.Cmd, sig syscall.Signal) {
	t.Helper()
	if err := srv.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve after %v: %v; want exit 0", sig, err)
		}
	case <-time.After(hangLimit):
		t.Fatalf("serve did not stop after %v", sig)
	}
}

// status sends a request and returns the status and body.
func status(t *testing.T, method, url, bearer, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		b.WriteString(sc.Text())
	}
	return resp.StatusCode, b.String()
}

// TestServeTokenRules: off loopback, serve refuses to start without a token
// (one sentence, exit 2), from --token or INDEXER_TOKEN; with one, every
// request needs it, a wrong or missing one gets 401; on loopback no token is
// needed.
func TestServeTokenRules(t *testing.T) {
	c := newCatalog(t)
	tree := filepath.Join(tempDir(t), "tree")
	writeFiles(t, tree, map[string]string{"a": "1"})
	c.mustRun(0, "scan", "-q", tree)

	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		r := c.mustRun(2, "serve", "--addr", addr)
		if msg := oneSentence(t, r); !strings.Contains(msg, "token") || !strings.Contains(msg, "INDEXER_TOKEN") {
			t.Errorf("serve --addr %s without a token says %q; want it to name --token and INDEXER_TOKEN", addr, msg)
		}
	}

	for _, how := range []struct {
		name string
		env  []string
		args []string
	}{
		{"--token", nil, []string{"--token", "s3cret"}},
		{"INDEXER_TOKEN", []string{"INDEXER_TOKEN=s3cret"}, nil},
	} {
		t.Run(how.name, func(t *testing.T) {
			srv, base := startServe(t, c, how.env, append([]string{"--addr", "0.0.0.0:0"}, how.args...)...)
			base = strings.Replace(base, "0.0.0.0", "127.0.0.1", 1)
			base = strings.Replace(base, "[::]", "127.0.0.1", 1)
			for _, r := range []struct {
				path, bearer string
				want         int
			}{
				{"/api/stats", "", http.StatusUnauthorized},
				{"/api/stats", "wrong", http.StatusUnauthorized},
				{"/api/stats", "s3cret", http.StatusOK},
				{"/dupes", "", http.StatusUnauthorized},
				{"/dupes", "s3cret", http.StatusOK},
			} {
				got, body := status(t, "GET", base+r.path, r.bearer, "")
				if got != r.want {
					t.Errorf("GET %s with token %q: %d %s; want %d", r.path, r.bearer, got, body, r.want)
				}
				if got == http.StatusUnauthorized && strings.HasPrefix(r.path, "/api/") && body != `{"error":"a valid token is required (Authorization: Bearer TOKEN)"}` {
					t.Errorf("GET %s with token %q: body %s; want the one-sentence error and nothing else", r.path, r.bearer, body)
				}
			}
			stopWith(t, srv, syscall.SIGTERM)
		})
	}

	srv, base := startServe(t, c, nil, "--addr", "127.0.0.1:0")
	if got, body := status(t, "GET", base+"/api/stats", "", ""); got != http.StatusOK {
		t.Errorf("GET /api/stats on loopback without a token: %d %s; want 200", got, body)
	}
	stopWith(t, srv, syscall.SIGINT)
}

// TestServeInterruptStopsScan: Ctrl-C (SIGINT) while a scan started over the
// API runs stops the scan as Ctrl-C stops `indexer scan` (what was hashed is
// committed, the scan recorded interrupted), ends the event stream a client
// follows with done, and serve exits 0.
func TestServeInterruptStopsScan(t *testing.T) {
	c := newCatalog(t)
	tree := filepath.Join(tempDir(t), "tree")
	writeFiles(t, tree, map[string]string{"a.txt": "a", "sub/b.txt": "b"})
	img, err := os.Create(filepath.Join(tree, "disk.img"))
	if err != nil {
		t.Fatal(err)
	}
	if err := img.Truncate(64 << 30); err != nil { // sparse: minutes to hash
		t.Fatal(err)
	}
	img.Close()

	srv, base := startServe(t, c, nil, "--addr", "127.0.0.1:0")
	code, body := status(t, "POST", base+"/api/scans", "", fmt.Sprintf(`{"roots": [%q]}`, tree))
	if code != http.StatusAccepted {
		t.Fatalf("POST /api/scans: %d %s", code, body)
	}
	var started struct{ ID int64 }
	if err := json.Unmarshal([]byte(body), &started); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(fmt.Sprintf("%s/api/scans/%d/events", base, started.ID))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := bufio.NewScanner(resp.Body)
	events.Buffer(nil, 1<<20)
	// Wait until the big file is being read: the small ones are hashed.
	for {
		if !events.Scan() {
			t.Fatal("the event stream ended before the scan read the big file")
		}
		if strings.Contains(events.Text(), `"slow":{`) {
			break
		}
	}

	stopWith(t, srv, syscall.SIGINT)
	var last, done string
	for events.Scan() {
		if line := events.Text(); strings.HasPrefix(line, "event: ") {
			last = line
		} else if last == "event: done" && strings.HasPrefix(line, "data: ") {
			done = strings.TrimPrefix(line, "data: ")
		}
	}
	var sum struct {
		Status string
		Added  int64
	}
	if err := json.Unmarshal([]byte(done), &sum); err != nil || sum.Status != "interrupted" {
		t.Errorf("the stream's last event %q carries %q (%v); want done with status interrupted", last, done, err)
	}

	var st struct {
		Files     int64
		LastScans []struct{ Status string } `json:"last_scans"`
	}
	if err := json.Unmarshal([]byte(c.mustRun(0, "stats", "--json", "--scans", "1").stdout), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.LastScans) != 1 || st.LastScans[0].Status != "interrupted" || st.Files != 2 || sum.Added != 2 {
		t.Errorf("after Ctrl-C: %d files, last scans %+v, done added %d; want a.txt and b.txt kept and the scan interrupted", st.Files, st.LastScans, sum.Added)
	}
}
