package web_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type dupesAnswer struct {
	Groups      []json.RawMessage `json:"groups"`
	Groups_     int64             `json:"groups_total"`
	Files       int64             `json:"files_total"`
	Reclaimable int64             `json:"reclaimable_total"`
}

// allDupes walks /api/dupes page by page with limit per page.
func (f *fixture) allDupes(query string, limit int) dupesAnswer {
	f.t.Helper()
	var all dupesAnswer
	for off := 0; ; off += limit {
		var page dupesAnswer
		f.get(fmt.Sprintf("/api/dupes?%slimit=%d&offset=%d", query, limit, off), &page)
		all.Groups = append(all.Groups, page.Groups...)
		all.Groups_, all.Files, all.Reclaimable = page.Groups_, page.Files, page.Reclaimable
		if len(page.Groups) < limit {
			return all
		}
		if off > 1000 {
			f.t.Fatal("paging does not end")
		}
	}
}

func compact(t *testing.T, rs []json.RawMessage) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		var v any
		decode(t, r, &v)
		b, _ := json.Marshal(v)
		out[i] = string(b)
	}
	return out
}

// TestAPIEqualsCLI: every read endpoint answers what the CLI's --json
// prints for the same catalog and filters, and paging is stable and complete.
func TestAPIEqualsCLI(t *testing.T) {
	f := newFixture(t, "")

	t.Run("stats", func(t *testing.T) {
		var cli, api any
		decode(t, f.cli("stats", "--json"), &cli)
		f.get("/api/stats", &api)
		sameJSON(t, "stats", api, cli)
	})

	t.Run("dupes", func(t *testing.T) {
		for _, c := range []struct{ query, flags string }{
			{"", ""},
			{"min_size=0&", "--min-size 0"},
			{"machine=m2&", "--machine m2"},
			{"min_size=1K&", "--min-size 1K"},
			{"under=" + url.QueryEscape(filepath.Join(f.root, "c")) + "&", "--under " + filepath.Join(f.root, "c")},
		} {
			var cli dupesAnswer
			args := append([]string{"dupes", "--json"}, strings.Fields(c.flags)...)
			decode(t, f.cli(args...), &cli)
			if len(cli.Groups) == 0 {
				t.Fatalf("dupes %s lists no group: the fixture is wrong", c.flags)
			}
			for _, limit := range []int{1, 2, 50} {
				api := f.allDupes(c.query, limit)
				sameJSON(t, fmt.Sprintf("dupes %s, pages of %d", c.flags, limit), compact(t, api.Groups), compact(t, cli.Groups))
				if api.Groups_ != cli.Groups_ || api.Files != cli.Files || api.Reclaimable != cli.Reclaimable {
					t.Errorf("dupes %s totals: got %+v, want %+v", c.flags, api, cli)
				}
			}
		}
	})

	t.Run("dupes with times", func(t *testing.T) {
		// times=true adds each file's modified, the time find --json
		// prints for that place; the rest is dupes --json as it is.
		var rows []struct{ Machine, Path, Modified string }
		decode(t, f.cli("find", "--json"), &rows)
		modified := map[string]string{}
		for _, r := range rows {
			modified[r.Machine+":"+r.Path] = r.Modified
		}
		for _, c := range []struct{ query, flags string }{
			{"", ""},
			{"min_size=0&machine=m2&", "--min-size 0 --machine m2"},
		} {
			var cli dupesAnswer
			decode(t, f.cli(append([]string{"dupes", "--json"}, strings.Fields(c.flags)...)...), &cli)
			for _, limit := range []int{1, 50} {
				api := f.allDupes(c.query+"times=true&", limit)
				var without []json.RawMessage
				times := 0
				for _, g := range api.Groups {
					var m map[string]any
					decode(t, g, &m)
					for _, fl := range m["files"].([]any) {
						fm := fl.(map[string]any)
						key := fm["machine"].(string) + ":" + fm["path"].(string)
						if got, want := fm["modified"], modified[key]; got != want || want == "" {
							t.Errorf("dupes %s times=true: %s modified %v; want %q as find --json says", c.flags, key, got, want)
						}
						delete(fm, "modified")
						times++
					}
					b, _ := json.Marshal(m)
					without = append(without, b)
				}
				if times == 0 {
					t.Fatalf("dupes %s times=true lists no file", c.flags)
				}
				sameJSON(t, fmt.Sprintf("dupes %s times=true without the times, pages of %d", c.flags, limit), compact(t, without), compact(t, cli.Groups))
			}
		}
	})

	t.Run("dupes sort and filters", func(t *testing.T) {
		var bySize, byCount dupesAnswer
		f.get("/api/dupes?sort=size&min_size=0", &bySize)
		f.get("/api/dupes?sort=count&min_size=0", &byCount)
		sizes := func(a dupesAnswer, field string) []int64 {
			var out []int64
			for _, g := range a.Groups {
				var m map[string]any
				decode(t, g, &m)
				out = append(out, int64(m[field].(float64)))
			}
			return out
		}
		if s := sizes(bySize, "size"); fmt.Sprint(s) != "[5000 900 26 0]" {
			t.Errorf("sort=size gives sizes %v; want [5000 900 26 0]", s)
		}
		if c := sizes(byCount, "count"); c[0] < c[len(c)-1] || c[0] != 5 {
			t.Errorf("sort=count gives counts %v; want descending from 5", c)
		}
		var jpg dupesAnswer
		f.get("/api/dupes?ext=jpg", &jpg)
		if len(jpg.Groups) != 1 || jpg.Groups_ != 1 || jpg.Files != 4 {
			t.Errorf("ext=jpg: %d groups, totals %d groups %d files; want the .jpg/.JPG group of 4 files", len(jpg.Groups), jpg.Groups_, jpg.Files)
		}
		var text dupesAnswer
		f.get("/api/dupes?q=BIG", &text)
		if len(text.Groups) != 1 || text.Files != 3 {
			t.Errorf("q=BIG: %d groups of %d files; want the big*.bin group of 3 files", len(text.Groups), text.Files)
		}
	})

	t.Run("find", func(t *testing.T) {
		for _, c := range []struct {
			query string
			args  []string
		}{
			{"", nil},
			{"name=*.txt", []string{"--name", "*.txt"}},
			{"name=*.jpg&i=true", []string{"--name", "*.jpg", "-i"}},
			{"q=big&machine=m1", []string{"big", "--machine", "m1"}},
			{"min_size=1K&max_size=5000", []string{"--min-size", "1K", "--max-size", "5000"}},
			{"under=" + url.QueryEscape(filepath.Join(f.root, "a")), []string{"--under", filepath.Join(f.root, "a")}},
		} {
			var cli []json.RawMessage
			decode(t, f.cli(append([]string{"find", "--json"}, c.args...)...), &cli)
			if len(cli) == 0 {
				t.Fatalf("find %v lists nothing", c.args)
			}
			for _, limit := range []int{1, 3, 1000} {
				var all []json.RawMessage
				for off := 0; ; off += limit {
					var page struct {
						Files []json.RawMessage `json:"files"`
						More  bool              `json:"more"`
					}
					f.get(fmt.Sprintf("/api/find?%s&limit=%d&offset=%d", c.query, limit, off), &page)
					all = append(all, page.Files...)
					if !page.More {
						break
					}
				}
				sameJSON(t, fmt.Sprintf("find %v in pages of %d", c.args, limit), compact(t, all), compact(t, cli))
			}
		}
	})

	t.Run("lookup", func(t *testing.T) {
		var rows []struct {
			SHA256, MD5, SHA1 string
		}
		decode(t, f.cli("find", "--json", "--name", "mid1.jpg", "--machine", "m1"), &rows)
		for _, h := range []string{rows[0].SHA256, rows[0].MD5, rows[0].SHA1} {
			var cli []json.RawMessage
			decode(t, f.cli("find", "--json", "--hash", h), &cli)
			var api struct {
				SHA256    string            `json:"sha256"`
				Locations []json.RawMessage `json:"locations"`
			}
			f.get("/api/lookup?hash="+h, &api)
			if api.SHA256 != rows[0].SHA256 {
				t.Errorf("lookup %s: sha256 %s; want %s", h, api.SHA256, rows[0].SHA256)
			}
			sameJSON(t, "lookup "+h, compact(t, api.Locations), compact(t, cli))
		}
	})

	t.Run("tree", func(t *testing.T) {
		var api struct {
			Entries []struct {
				Name     string `json:"name"`
				Dir      bool   `json:"dir"`
				Files    int64  `json:"files"`
				Bytes    int64  `json:"bytes"`
				DupBytes int64  `json:"dup_bytes"`
			} `json:"entries"`
		}
		f.get("/api/tree?machine=m1&path="+url.QueryEscape(f.root), &api)
		got := []string{}
		for _, e := range api.Entries {
			got = append(got, fmt.Sprintf("%s dir=%v files=%d bytes=%d dup=%d", e.Name, e.Dir, e.Files, e.Bytes, e.DupBytes))
		}
		// a: one.txt(26) b/two.txt(26) big1.bin(5000), all duplicated;
		// c: three.txt big2.bin mid1 mid2; files: bad name, empties, unique.
		want := []string{
			"a dir=true files=3 bytes=5052 dup=5052",
			"c dir=true files=4 bytes=6826 dup=6826",
			"bad-\ufffd-name.txt dir=false files=1 bytes=26 dup=26",
			"empty1 dir=false files=1 bytes=0 dup=0",
			"empty2 dir=false files=1 bytes=0 dup=0",
			"unique.txt dir=false files=1 bytes=9 dup=0",
		}
		sameJSON(t, "tree", got, want)
	})

	t.Run("health", func(t *testing.T) {
		var cli, api struct {
			Status string
			Checks []struct{ Name, Status string }
		}
		decode(t, f.cli("health", "--json"), &cli)
		f.get("/api/health", &api)
		sameJSON(t, "health", api, cli)
	})

	// Last, as it changes the catalog: a zip whose entries duplicate a file,
	// and a file gone since the first scan.
	t.Run("archived and deleted", func(t *testing.T) {
		var zb bytes.Buffer
		zw := zip.NewWriter(&zb)
		for _, name := range []string{"in1.txt", "in/in2.txt"} {
			w, err := zw.Create(name)
			if err != nil {
				t.Fatal(err)
			}
			w.Write([]byte("same content, three copies"))
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		writeTree(t, filepath.Join(f.root, "z"), map[string]string{"arch.zip": zb.String()})
		if err := os.Remove(filepath.Join(f.root, "unique.txt")); err != nil {
			t.Fatal(err)
		}
		f.cli("--machine", "m1", "scan", "-q", f.root)
		var cli dupesAnswer
		decode(t, f.cli("dupes", "--json", "--include-archived"), &cli)
		api := f.allDupes("include_archived=true&", 2)
		sameJSON(t, "dupes --include-archived", compact(t, api.Groups), compact(t, cli.Groups))
		if !strings.Contains(fmt.Sprint(compact(t, api.Groups)), `"archive_path":"in/in2.txt"`) {
			t.Errorf("dupes include_archived=true lists no entry of the zip: %s", compact(t, api.Groups))
		}
		for _, c := range []struct {
			query string
			args  []string
			want  string
		}{
			{"deleted=true", []string{"--deleted"}, `"operation":"DEL"`},
			{"include_archived=true", []string{"--include-archived"}, `"archive_path":"in1.txt"`},
		} {
			var cli []json.RawMessage
			decode(t, f.cli(append([]string{"find", "--json"}, c.args...)...), &cli)
			var page struct{ Files []json.RawMessage }
			f.get("/api/find?limit=1000&"+c.query, &page)
			sameJSON(t, "find "+c.query, compact(t, page.Files), compact(t, cli))
			if !strings.Contains(fmt.Sprint(compact(t, page.Files)), c.want) {
				t.Errorf("find %s lists no row with %s", c.query, c.want)
			}
		}
	})
}

// TestAPIErrors: bad parameters get 400 with a sentence, and 404, 405 and
// 401 where due, always as {"error": "..."}.
func TestAPIErrors(t *testing.T) {
	f := newFixture(t, "")
	for _, c := range []struct {
		method, path string
		status       int
		says         string
	}{
		{"GET", "/api/dupes?min_size=lots", 400, "min_size"},
		{"GET", "/api/dupes?sort=name", 400, "sort"},
		{"GET", "/api/dupes?limit=0", 400, "limit"},
		{"GET", "/api/dupes?limit=5000", 400, "limit"},
		{"GET", "/api/dupes?offset=-1", 400, "offset"},
		{"GET", "/api/dupes?under=relative/path", 400, "absolute"},
		{"GET", "/api/dupes?colour=red", 400, "colour"},
		{"GET", "/api/find?hash=abc", 400, "abc"},
		{"GET", "/api/find?name=%5B", 400, ""},
		{"GET", "/api/find?i=maybe", 400, "i="},
		{"GET", "/api/tree?path=/x", 400, "machine"},
		{"GET", "/api/tree?machine=nosuch", 404, "machine nosuch has no catalogued file under /"},
		{"GET", "/api/tree?machine=m1&path=/no/such/dir", 404, "machine m1 has no catalogued file under /no/such/dir"},
		{"GET", "/api/lookup", 400, "hash"},
		{"GET", "/api/lookup?hash=" + strings.Repeat("0", 64), 404, "content"},
		{"GET", "/api/nothing", 404, "/api/nothing"},
		{"POST", "/api/stats", 405, "GET"},
		{"GET", "/api/backup", 405, "POST"},
		{"DELETE", "/api/scans/99", 404, "99"},
		{"GET", "/api/scans/x/events", 400, "x"},
		{"POST", "/api/scans", 400, "roots"},
	} {
		var body any
		if c.method == "POST" && c.path == "/api/scans" {
			body = map[string]any{"roots": []string{}}
		}
		status, b := f.do(c.method, c.path, body)
		var e struct{ Error string }
		if err := json.Unmarshal(b, &e); err != nil || e.Error == "" {
			t.Errorf("%s %s: body %q is not {\"error\": ...}", c.method, c.path, b)
		}
		if status != c.status || !strings.Contains(e.Error, c.says) {
			t.Errorf("%s %s: %d %q; want %d saying %q", c.method, c.path, status, e.Error, c.status, c.says)
		}
		// One sentence: no second one, no error wrapped in a sentinel's words.
		if strings.Contains(e.Error, ". ") || strings.Contains(e.Error, "\n") || strings.HasSuffix(e.Error, ": not found") {
			t.Errorf("%s %s: %q is not one sentence", c.method, c.path, e.Error)
		}
	}
}

// TestAPIToken: with a token every request needs it, compared exactly; the
// login page sets a cookie that then works too.
func TestAPIToken(t *testing.T) {
	f := newFixture(t, "s3cret")
	for _, auth := range []string{"", "Bearer wrong", "Bearer s3cret2", "Basic s3cret", "s3cret"} {
		req, _ := http.NewRequest("GET", f.ts.URL+"/api/stats", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("Authorization %q: %d; want 401", auth, resp.StatusCode)
		}
	}
	var st map[string]any
	f.get("/api/stats", &st) // with the right Bearer token

	// The login page: a wrong token is refused, the right one sets a cookie.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.PostForm(f.ts.URL+"/login", url.Values{"token": {"nope"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Errorf("login with a wrong token: %d, cookies %v; want 401 and none", resp.StatusCode, resp.Cookies())
	}
	resp, err = noRedirect.PostForm(f.ts.URL+"/login", url.Values{"token": {"s3cret"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 {
		t.Fatalf("login: %d, cookies %v; want 303 and one cookie", resp.StatusCode, resp.Cookies())
	}
	req, _ := http.NewRequest("GET", f.ts.URL+"/api/stats", nil)
	req.AddCookie(resp.Cookies()[0])
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("with the login cookie: %d; want 200", resp.StatusCode)
	}
}

// TestAPICrossSite: a state-changing request from another site is refused
// before it does anything.
func TestAPICrossSite(t *testing.T) {
	f := newFixture(t, "")
	for _, h := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site"},
		{"Origin": "https://evil.example"},
	} {
		req, _ := http.NewRequest("POST", f.ts.URL+"/api/backup", nil)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST /api/backup with %v: %d; want 403", h, resp.StatusCode)
		}
	}
	backups, _ := filepath.Glob(filepath.Join(filepath.Dir(f.dbPath), "backups", "*"))
	if len(backups) != 0 {
		t.Errorf("a refused request wrote backups %v", backups)
	}
}

// TestAPIUnavailable: a catalog that cannot be used (closed here, as at the
// end of a shutdown) gets 503 with one sentence, on reads and writes alike.
func TestAPIUnavailable(t *testing.T) {
	f := newFixture(t, "")
	if err := f.cat.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ method, path string }{
		{"GET", "/api/stats"}, {"GET", "/api/dupes"}, {"POST", "/api/backup"},
	} {
		status, b := f.do(c.method, c.path, nil)
		var e struct{ Error string }
		if err := json.Unmarshal(b, &e); err != nil || status != http.StatusServiceUnavailable || !strings.Contains(e.Error, "catalog is closed") {
			t.Errorf("%s %s on a closed catalog: %d %s; want 503 saying the catalog is closed", c.method, c.path, status, b)
		}
	}
}

// TestAPIAfterBadReplacement: another process puts a file that is no
// catalog in the catalog's place. Reads get 503 with a sentence, health
// reports the failure with 503; once a good catalog is put back, the server
// answers from it, without a restart.
func TestAPIAfterBadReplacement(t *testing.T) {
	f := newFixture(t, "")
	var before struct{ Files int64 }
	f.get("/api/stats", &before)
	status, b := f.do("POST", "/api/backup", nil)
	if status != http.StatusOK {
		t.Fatalf("POST /api/backup: %d %s", status, b)
	}
	var backup struct{ Path string }
	decode(t, b, &backup)
	good, err := os.ReadFile(backup.Path)
	if err != nil {
		t.Fatal(err)
	}
	// put renames content over the catalog, as a restore does.
	put := func(content []byte) {
		t.Helper()
		tmp := f.dbPath + ".new"
		if err := os.WriteFile(tmp, content, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, f.dbPath); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{f.dbPath + "-wal", f.dbPath + "-shm"} {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
		}
	}
	put([]byte(strings.Repeat("not a catalog; ", 100)))
	for _, path := range []string{"/api/stats", "/api/dupes", "/api/stats"} {
		status, b := f.do("GET", path, nil)
		var e struct{ Error string }
		if err := json.Unmarshal(b, &e); err != nil || status != http.StatusServiceUnavailable || !strings.Contains(e.Error, "not an SQLite database") {
			t.Errorf("GET %s over a file that is no catalog: %d %s; want 503 saying so", path, status, b)
		}
	}
	status, b = f.do("GET", "/api/health", nil)
	var h struct{ Status string }
	if err := json.Unmarshal(b, &h); err != nil || status != http.StatusServiceUnavailable || h.Status != "fail" {
		t.Errorf("GET /api/health over a file that is no catalog: %d %s; want 503 and the report, status fail", status, b)
	}

	put(good)
	var after struct{ Files int64 }
	f.get("/api/stats", &after)
	if after.Files != before.Files {
		t.Errorf("after a good catalog was put back: %d files; want %d", after.Files, before.Files)
	}
	status, _ = f.do("GET", "/api/health", nil)
	if status != http.StatusOK {
		t.Errorf("GET /api/health after a good catalog was put back: %d; want 200", status)
	}
}
