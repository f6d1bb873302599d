package e2e

import (
	"bytes"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	_ "modernc.org/sqlite" // to poll row counts, and to write another program's database
)

// machine is the machine name every run records, so catalogs compare.
const machine = "e2e"

// nobody is the unprivileged identity for child processes: CI runs as root,
// which reads and writes everything regardless of permissions.
var nobody = &syscall.Credential{Uid: 65534, Gid: 65534}

// result is one finished indexer process.
type result struct {
	args   []string
	stdout string
	stderr string
	code   int
}

func (r result) String() string {
	return fmt.Sprintf("indexer %s: exit %d\nstderr: %s", strings.Join(r.args, " "), r.code, r.stderr)
}

// catalog is a catalog file under test and how to run the indexer on it.
type catalog struct {
	t    testing.TB
	path string
	env  []string            // extra environment, KEY=VALUE
	cred *syscall.Credential // run as this user when not nil
	// fsize, when not 0, runs the indexer with RLIMIT_FSIZE set to it.
	fsize uint64
}

// newCatalog returns a catalog path in a fresh directory, private as indexer
// makes one (health warns about any other); the file does not exist yet.
func newCatalog(t testing.TB) *catalog {
	dir := filepath.Join(tempDir(t), "catalog")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return &catalog{t: t, path: filepath.Join(dir, "index.db")}
}

// share makes the catalog c and its directory readable by every user, as
// someone sharing a catalog would, so that an unprivileged user can open it.
func (c *catalog) share(t testing.TB, dirMode os.FileMode) {
	t.Helper()
	if err := os.Chmod(filepath.Dir(c.path), dirMode); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{c.path, c.path + "-wal", c.path + "-shm", c.path + ".lock"} {
		if err := os.Chmod(p, 0o644); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	}
}

// tempDir is t.TempDir made world-readable (its parent too), so that an
// unprivileged child can reach what lies below it.
func tempDir(t testing.TB) string {
	d := t.TempDir()
	for _, p := range []string{d, filepath.Dir(d)} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// command returns the indexer command on this catalog, not started.
func (c *catalog) command(args ...string) *exec.Cmd {
	full := append([]string{"--db", c.path}, args...)
	cmd := exec.Command(bin, full...)
	cmd.Env = baseEnv()
	if c.fsize != 0 {
		self, err := os.Executable()
		if err != nil {
			c.t.Fatal(err)
		}
		cmd = exec.Command(self, append([]string{strconv.FormatUint(c.fsize, 10), bin}, full...)...)
		cmd.Env = append(baseEnv(), helperEnv+"=fsize")
	}
	cmd.Env = append(cmd.Env, "INDEXER_MACHINE="+machine)
	cmd.Env = append(cmd.Env, c.env...)
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	return cmd
}

// baseEnv is the test's environment without the INDEXER_ settings a
// developer may have exported: every run starts from the defaults.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "INDEXER_") {
			env = append(env, kv)
		}
	}
	return env
}

// run runs the indexer on this catalog to its end.
func (c *catalog) run(args ...string) result {
	c.t.Helper()
	return execute(c.t, c.command(args...))
}

// mustRun runs the indexer and fails the test unless it exits with code.
func (c *catalog) mustRun(code int, args ...string) result {
	c.t.Helper()
	r := c.run(args...)
	if r.code != code {
		c.t.Fatalf("want exit %d, got %s", code, r)
	}
	noPanic(c.t, r)
	return r
}

// hangLimit is how long one process may run before it counts as hung (a
// FIFO opened for reading, a lock waited for forever): it is killed and the
// test fails, instead of the whole suite running into go test's timeout.
const hangLimit = 3 * time.Minute

// execute runs cmd, capturing its output, and returns how it ended.
func execute(t testing.TB, cmd *exec.Cmd) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if cmd.Stdout == nil {
		cmd.Stdout = &stdout
	}
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("run %v: %v", cmd.Args, err)
	}
	hung := time.AfterFunc(hangLimit, func() { _ = cmd.Process.Kill() })
	err := cmd.Wait()
	if !hung.Stop() {
		t.Fatalf("%v still ran after %s and was killed; stderr: %s", cmd.Args, hangLimit, stderr.String())
	}
	r := result{args: cmd.Args[1:], stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.code = 128 + int(ws.Signal())
		}
	default:
		t.Fatalf("run %v: %v", cmd.Args, err)
	}
	return r
}

// noPanic fails the test when a process's stderr shows a Go crash.
func noPanic(t testing.TB, r result) {
	t.Helper()
	for _, s := range []string{"panic:", "goroutine ", "fatal error:", "SIGSEGV"} {
		if strings.Contains(r.stderr, s) {
			t.Fatalf("the indexer crashed (%q on stderr): %s", s, r)
		}
	}
}

// oneSentence fails the test unless stderr is exactly one line of the form
// "indexer: ...", with no crash trace.
func oneSentence(t testing.TB, r result) string {
	t.Helper()
	noPanic(t, r)
	msg := strings.TrimSuffix(r.stderr, "\n")
	if msg == "" || strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "indexer: ") {
		t.Fatalf("want one line \"indexer: ...\" on stderr, got %q (%s)", r.stderr, r)
	}
	return msg
}

// scanSummary is the part of `scan --json` the tests read.
type scanSummary struct {
	Status    string `json:"status"`
	FilesSeen int64  `json:"files_seen"`
	Added     int64  `json:"added"`
	Modified  int64  `json:"modified"`
	Deleted   int64  `json:"deleted"`
	Unchanged int64  `json:"unchanged"`
	Skipped   int64  `json:"skipped"`
	Failed    int64  `json:"failed"`
	Failures  []struct {
		Path    string `json:"path"`
		PathB64 string `json:"path_b64"`
		Error   string `json:"error"`
	} `json:"failures"`
	Skips []struct {
		Path    string `json:"path"`
		PathB64 string `json:"path_b64"`
		Reason  string `json:"reason"`
	} `json:"skips"`
}

// scan runs `scan --json --quiet args...`, wants exit code, and returns the summary.
func (c *catalog) scan(code int, args ...string) scanSummary {
	c.t.Helper()
	r := c.mustRun(code, append([]string{"scan", "--json", "--quiet"}, args...)...)
	var s scanSummary
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		c.t.Fatalf("scan --json printed no summary: %v\n%s\n%s", err, r.stdout, r)
	}
	return s
}

// healthReport is `health --json`.
type healthReport struct {
	Status string `json:"status"`
	Checks []struct {
		Name   string `json:"name"`
		Status string `json:"status"`
		Detail string `json:"detail"`
	} `json:"checks"`
}

// health runs `health --full --json` and fails the test unless it exits 0
// and every check but last_scan is ok. last_scan may be degraded: a scan
// killed with SIGKILL cannot record its end.
func (c *catalog) health() healthReport {
	c.t.Helper()
	r := c.mustRun(0, "health", "--full", "--json")
	var h healthReport
	if err := json.Unmarshal([]byte(r.stdout), &h); err != nil {
		c.t.Fatalf("health --json: %v\n%s", err, r.stdout)
	}
	for _, ch := range h.Checks {
		if ch.Status != "ok" && !(ch.Name == "last_scan" && ch.Status == "degraded") {
			c.t.Fatalf("health check %s is %s: %s", ch.Name, ch.Status, ch.Detail)
		}
	}
	if len(h.Checks) == 0 || (h.Status != "ok" && h.Status != "degraded") {
		c.t.Fatalf("health status %q with checks %+v", h.Status, h.Checks)
	}
	return h
}

// view is what the readcatalog helper reads from a catalog file: one
// snapshot, taken read-only by a process of its own.
type view struct {
	Schema       bool     `json:"schema"`
	Integrity    []string `json:"integrity"`
	FKViolations int      `json:"fk_violations"`
	Orphans      int      `json:"orphans"`
	Scans        int      `json:"scans"`
	Hashes       int      `json:"hashes"`
	Files        []struct {
		Path      []byte `json:"path"`
		Operation string `json:"operation"`
		MD5       string `json:"md5"`
		SHA1      string `json:"sha1"`
		SHA256    string `json:"sha256"`
	} `json:"files"`
}

// readCatalog reads the catalog file at path and fails the test unless it
// passes integrity_check and foreign_key_check and no present file lacks its
// digests. A database whose schema was never committed (a catalog killed
// while being created) reads as empty.
func readCatalog(t testing.TB, path string) *view {
	t.Helper()
	r := execute(t, exec.Command(readcatalog, path))
	if r.code != 0 {
		t.Fatalf("read catalog %s: %s", path, r.stderr)
	}
	var v view
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("readcatalog %s: %v", path, err)
	}
	if len(v.Integrity) != 1 || v.Integrity[0] != "ok" {
		t.Fatalf("integrity_check %s: %q", path, v.Integrity)
	}
	if v.FKViolations != 0 {
		t.Fatalf("foreign_key_check %s: %d violations", path, v.FKViolations)
	}
	if v.Orphans != 0 {
		t.Fatalf("%s: %d present files without their digests", path, v.Orphans)
	}
	return &v
}

// present returns the files that are not DEL, with their sha256.
func (v *view) present() entries {
	out := entries{}
	for _, f := range v.Files {
		if f.Operation != "DEL" {
			out[string(f.Path)] = f.SHA256
		}
	}
	return out
}

// deleted returns the files marked DEL.
func (v *view) deleted() entries {
	out := entries{}
	for _, f := range v.Files {
		if f.Operation == "DEL" {
			out[string(f.Path)] = f.SHA256
		}
	}
	return out
}

// entries maps a path to the sha256 of its content.
type entries map[string]string

// rows reads the catalog file at path, checks its integrity (see
// readCatalog), and returns its present plain files.
func rows(t testing.TB, path string) entries {
	t.Helper()
	return readCatalog(t, path).present()
}

// within returns the entries whose path is root or lies below it.
func (e entries) within(root string) entries {
	out := entries{}
	for p, h := range e {
		if p == root || strings.HasPrefix(p, root+"/") {
			out[p] = h
		}
	}
	return out
}

// merge returns the union of e and o.
func (e entries) merge(o entries) entries {
	out := make(entries, len(e)+len(o))
	for p, h := range e {
		out[p] = h
	}
	for p, h := range o {
		out[p] = h
	}
	return out
}

// diff describes how got differs from want, or returns "" when they are equal.
func diff(got, want entries) string {
	var lines []string
	for p, w := range want {
		g, ok := got[p]
		switch {
		case !ok:
			lines = append(lines, fmt.Sprintf("missing %q", p))
		case g != w:
			lines = append(lines, fmt.Sprintf("%q: sha256 %s, want %s", p, g, w))
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			lines = append(lines, fmt.Sprintf("unexpected %q", p))
		}
	}
	if len(lines) == 0 {
		return ""
	}
	sort.Strings(lines)
	n := len(lines)
	if n > 10 {
		lines = append(lines[:10], "…")
	}
	return fmt.Sprintf("%d differences (got %d entries, want %d):\n  %s", n, len(got), len(want), strings.Join(lines, "\n  "))
}

// subsetDiff describes the entries of got that are not in want with the
// same hash: what a catalog interrupted part-way may hold is a subset.
func subsetDiff(got, want entries) string {
	var lines []string
	for p, g := range got {
		w, ok := want[p]
		switch {
		case !ok:
			lines = append(lines, fmt.Sprintf("unexpected %q", p))
		case g != w:
			lines = append(lines, fmt.Sprintf("%q: sha256 %s, want %s", p, g, w))
		}
	}
	if len(lines) == 0 {
		return ""
	}
	sort.Strings(lines)
	n := len(lines)
	if n > 10 {
		lines = append(lines[:10], "…")
	}
	return fmt.Sprintf("%d wrong entries:\n  %s", n, strings.Join(lines, "\n  "))
}

// assertCatalog fails the test unless the catalog at path passes the
// integrity checks and holds exactly want.
func assertCatalog(t testing.TB, path string, want entries) {
	t.Helper()
	if d := diff(rows(t, path), want); d != "" {
		t.Fatalf("catalog %s differs from the reference: %s", path, d)
	}
}

// waitRows polls the catalog until at least n present rows are committed or
// the process done reports its end. It returns the count seen.
func waitRows(t testing.TB, path string, n int, done <-chan struct{}) int {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return -1
		default:
		}
		if _, err := os.Stat(path); err == nil {
			if c := countRows(path); c >= n {
				return c
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: fewer than %d rows after 2 minutes", path, n)
	return 0
}

// countRows counts file rows, or returns -1 when the catalog cannot be read
// yet (it is being created).
func countRows(path string) int {
	q := url.Values{}
	q.Add("mode", "ro")
	q.Add("_pragma", "busy_timeout(1000)")
	u := url.URL{Scheme: "file", Opaque: (&url.URL{Path: path}).EscapedPath(), RawQuery: q.Encode()}
	d, err := sql.Open("sqlite", u.String())
	if err != nil {
		return -1
	}
	defer d.Close()
	var n int
	if err := d.QueryRow("SELECT COUNT(*) FROM files").Scan(&n); err != nil {
		return -1
	}
	return n
}

// background is an indexer process started and not yet waited for.
type background struct {
	t      testing.TB
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan struct{}
	res    result
}

// start starts the indexer on c in the background.
func (c *catalog) start(args ...string) *background {
	c.t.Helper()
	b := &background{t: c.t, cmd: c.command(args...), done: make(chan struct{})}
	b.cmd.Stdout, b.cmd.Stderr = &b.stdout, &b.stderr
	if err := b.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	go func() {
		err := b.cmd.Wait()
		b.res = result{args: b.cmd.Args[1:], stdout: b.stdout.String(), stderr: b.stderr.String()}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			b.res.code = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				b.res.code = 128 + int(ws.Signal())
			}
		} else if err != nil {
			b.res.code = -1
			b.res.stderr += err.Error()
		}
		close(b.done)
	}()
	c.t.Cleanup(func() {
		if b.running() {
			_ = b.cmd.Process.Kill()
		}
		<-b.done
	})
	return b
}

// running reports whether the process has not ended yet.
func (b *background) running() bool {
	select {
	case <-b.done:
		return false
	default:
		return true
	}
}

// wait waits for the process and returns how it ended. A process still
// running after hangLimit is killed and fails the test.
func (b *background) wait() result {
	b.t.Helper()
	select {
	case <-b.done:
		return b.res
	case <-time.After(hangLimit):
		_ = b.cmd.Process.Kill()
		<-b.done
		b.t.Fatalf("%v still ran after %s and was killed; stderr: %s", b.cmd.Args, hangLimit, b.res.stderr)
		return b.res
	}
}

// treeFiles walks root and returns every regular file with the sha256 of its
// content, computed by the test: the independent reference.
func treeFiles(t testing.TB, root string) entries {
	t.Helper()
	out := entries{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			sum, err := sha256File(p)
			if err != nil {
				return err
			}
			out[p] = sum
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// readBytes samples how many bytes the running process pid has read so far
// (rchar of /proc/PID/io), or -1 once it cannot be read.
func readBytes(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "rchar: "); ok {
			var n int64
			fmt.Sscan(v, &n)
			return n
		}
	}
	return -1
}

// watchReads samples readBytes of b's process until it ends and returns the
// last sample.
func watchReads(b *background) <-chan int64 {
	out := make(chan int64, 1)
	go func() {
		var last int64
		for b.running() {
			if n := readBytes(b.cmd.Process.Pid); n >= 0 {
				last = n
			}
			time.Sleep(5 * time.Millisecond)
		}
		out <- last
	}()
	return out
}

// requireCommand fails the test when the indexer has no working subcommand
// name: a command that stopped being registered must not turn into a skip.
func requireCommand(t testing.TB, name string) {
	t.Helper()
	if !hasCommand(t, name) {
		t.Fatalf("this indexer has no working %q command", name)
	}
}

// findEntry is one element of `find --json` (issue 4).
type findEntry struct {
	Machine   string `json:"machine"`
	Path      string `json:"path"`
	PathB64   string `json:"path_b64"`
	Size      int64  `json:"size"`
	MD5       string `json:"md5"`
	SHA1      string `json:"sha1"`
	SHA256    string `json:"sha256"`
	Operation string `json:"operation"`
}

// exactPath returns a path printed as JSON as the exact bytes on disk: b64
// decoded when present (docs/json.md's convention for a path that is not
// valid UTF-8), else path. The test fails on a path that lost bytes.
func exactPath(t testing.TB, path, b64 string) string {
	t.Helper()
	if b64 == "" {
		if strings.ContainsRune(path, utf8.RuneError) {
			t.Fatalf("a path with bytes that are not UTF-8 was printed without path_b64: %q", path)
		}
		return path
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("path_b64 %q: %v", b64, err)
	}
	return string(b)
}

// findAll lists the catalog's present files under root through
// `find --json`, keyed by their exact path.
func findAll(t testing.TB, c *catalog, root string) entries {
	t.Helper()
	r := c.mustRun(0, "--json", "find", "--under", root)
	var es []findEntry
	if err := json.Unmarshal([]byte(r.stdout), &es); err != nil {
		t.Fatalf("find --json: %v\n%.2000s", err, r.stdout)
	}
	out := make(entries, len(es))
	for _, e := range es {
		if e.Machine != machine || e.Operation == "DEL" {
			t.Fatalf("find listed %+v", e)
		}
		p := exactPath(t, e.Path, e.PathB64)
		if _, dup := out[p]; dup {
			t.Fatalf("find listed %q twice", p)
		}
		out[p] = e.SHA256
	}
	return out
}

// needRoot skips the test unless it runs as root, which it needs to run the
// indexer as another, unprivileged user (CI runs as root).
func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run the indexer as the unprivileged user 65534")
	}
}
