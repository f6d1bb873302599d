package web_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/indexer/indexer/cmd"
	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/service"
	"github.com/indexer/indexer/internal/web"
)

// fixture is a catalog built by real scans of real files, and a server on it.
type fixture struct {
	t       *testing.T
	dbPath  string
	root    string // the scanned tree
	cat     *service.Catalog
	srv     *web.Server
	ts      *httptest.Server
	token   string
	hashOf  map[string]string // relative path → sha256, filled by the CLI
	restore string            // --allow-restore-from
	config  web.Config        // the server's Cache and WatchInterval
}

// sampleTree has groups of duplicates of different sizes and counts, a
// unique file, a name that is not UTF-8 and nested directories.
var sampleTree = map[string]string{
	"a/one.txt":         "same content, three copies",
	"a/b/two.txt":       "same content, three copies",
	"c/three.txt":       "same content, three copies",
	"a/big1.bin":        strings.Repeat("x", 5000),
	"c/big2.bin":        strings.Repeat("x", 5000),
	"c/d/mid1.jpg":      strings.Repeat("j", 900),
	"c/d/mid2.JPG":      strings.Repeat("j", 900),
	"unique.txt":        "only once",
	"bad-\xff-name.txt": "same content, three copies",
	"empty1":            "",
	"empty2":            "",
}

// writeTree writes files under dir.
func writeTree(t *testing.T, dir string, tree map[string]string) {
	t.Helper()
	for rel, content := range tree {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// cli runs the indexer command line in this process on the fixture's
// catalog and returns its stdout; it fails the test on a non-zero exit.
func (f *fixture) cli(args ...string) []byte {
	f.t.Helper()
	var out, errb bytes.Buffer
	root, _ := cmd.NewRoot(&out, &errb)
	root.SetArgs(append([]string{"--db", f.dbPath}, args...))
	if err := root.ExecuteContext(f.t.Context()); err != nil {
		f.t.Fatalf("indexer %s: %v\nstderr: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.Bytes()
}

// newFixture scans sampleTree as machine m1, and part of it as m2, then
// serves the catalog.
func newFixture(t *testing.T, token string) *fixture {
	return newFixtureConfig(t, token, web.Config{})
}

// newFixtureConfig is newFixture with the server's Cache and WatchInterval
// taken from config.
func newFixtureConfig(t *testing.T, token string, config web.Config) *fixture {
	dir := t.TempDir()
	f := &fixture{t: t, dbPath: filepath.Join(dir, "cat", "index.db"), root: filepath.Join(dir, "tree"), token: token, config: config}
	writeTree(t, f.root, sampleTree)
	f.cli("--machine", "m1", "scan", "-q", f.root)
	f.cli("--machine", "m2", "scan", "-q", filepath.Join(f.root, "c"))
	f.serve()
	return f
}

// serve opens the catalog as serve does and starts a test server on it.
func (f *fixture) serve() {
	t := f.t
	opts := db.DefaultOptions()
	opts.UnlockIdle = true
	cat, err := service.Open(t.Context(), f.dbPath, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	srv, err := web.New(web.Config{Catalog: cat, DBOptions: db.DefaultOptions(), Machine: "m1", Token: f.token,
		AllowRestoreFrom: f.restore, Cache: f.config.Cache, WatchInterval: f.config.WatchInterval})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	f.cat, f.srv = cat, srv
	f.ts = httptest.NewServer(srv.Handler())
	t.Cleanup(f.ts.Close)
}

// do sends a request with the fixture's token and returns status and body.
func (f *fixture) do(method, path string, body any) (int, []byte) {
	f.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			f.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(f.t.Context(), method, f.ts.URL+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	if f.token != "" {
		req.Header.Set("Authorization", "Bearer "+f.token)
	}
	resp, err := f.ts.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// get fetches path, wants 200 and decodes the answer into v.
func (f *fixture) get(path string, v any) {
	f.t.Helper()
	status, b := f.do("GET", path, nil)
	if status != http.StatusOK {
		f.t.Fatalf("GET %s: %d %s", path, status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		f.t.Fatalf("GET %s: %v in %s", path, err, b)
	}
}

// decode unmarshals CLI output into v.
func decode(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v in %s", err, b)
	}
}

// sameJSON compares two values by their JSON.
func sameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}
