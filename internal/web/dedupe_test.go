package web_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/indexer/indexer/internal/dto"
)

// applyAnswer is the answer of POST /api/dedupe/apply.
type applyAnswer struct {
	Applied        int              `json:"applied"`
	Skipped        []dto.DedupeSkip `json:"skipped"`
	BytesReclaimed int64            `json:"bytes_reclaimed"`
	Manifest       string           `json:"manifest"`
	Events         []struct{ Action, Path, Kept, Reason string }
}

// post sends body to path and decodes a 200 answer into v, or fails.
func (f *fixture) post(path string, body, v any) {
	f.t.Helper()
	status, b := f.do("POST", path, body)
	if status != http.StatusOK {
		f.t.Fatalf("POST %s: %d %s", path, status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		f.t.Fatalf("POST %s: %v in %s", path, err, b)
	}
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// TestAPIDedupePlanEqualsCLI: the server's plan is `indexer dedupe plan`'s,
// for its own machine, with the same rules and filters.
func TestAPIDedupePlanEqualsCLI(t *testing.T) {
	f := newFixture(t, "")
	for _, c := range []struct {
		req  map[string]any
		args []string
	}{
		{map[string]any{"action": "hardlink", "keep": []string{"shortest-path"}},
			[]string{"--action", "hardlink", "--keep", "shortest-path"}},
		{map[string]any{"action": "trash", "keep": []string{"under:" + filepath.Join(f.root, "c"), "newest"}, "min_size": "100"},
			[]string{"--action", "trash", "--keep", "under:" + filepath.Join(f.root, "c"), "--keep", "newest", "--min-size", "100"}},
		{map[string]any{"action": "delete", "keep": []string{"oldest"}, "under": filepath.Join(f.root, "a")},
			[]string{"--action", "delete", "--keep", "oldest", filepath.Join(f.root, "a")}},
	} {
		var cli, api dto.DedupePlan
		decode(t, f.cli(append([]string{"--machine", "m1", "dedupe", "plan"}, c.args...)...), &cli)
		f.post("/api/dedupe/plan", c.req, &api)
		if len(cli.Groups) == 0 && c.req["under"] == nil {
			t.Fatalf("dedupe plan %v plans nothing: the fixture is wrong", c.args)
		}
		sameJSON(t, strings.Join(c.args, " "), api, cli)
	}
	status, b := f.do("POST", "/api/dedupe/plan", map[string]any{"action": "hardlink", "keep": []string{"biggest"}})
	if status != http.StatusBadRequest || !strings.Contains(string(b), `keep rule \"biggest\"`) {
		t.Errorf("a bad keep rule: %d %s; want 400 naming the rule", status, b)
	}
}

// TestAPIDedupeApply builds a plan through the API, inverts one group as
// the page does, and applies it: the files are linked on disk, a file
// changed after the plan is skipped, and /api/dupes, answered from the
// cache before, shows the change at once.
func TestAPIDedupeApply(t *testing.T) {
	f := newFixture(t, "")
	var before dupesAnswer
	f.get("/api/dupes?machine=m1", &before)
	var plan dto.DedupePlan
	f.post("/api/dedupe/plan", map[string]any{"action": "hardlink", "keep": []string{"shortest-path"}}, &plan)
	if len(plan.Groups) != 3 {
		t.Fatalf("plan has %d groups; want 3", len(plan.Groups))
	}
	var big, same *dto.DedupeGroup
	for i := range plan.Groups {
		switch plan.Groups[i].Size {
		case 5000:
			big = &plan.Groups[i]
		case 26:
			same = &plan.Groups[i]
		}
	}
	// Invert the big group: keep the copy the rules would act on.
	wasKept := big.Keep.Names[0].Path
	big.Keep, big.Act[0] = big.Act[0], big.Keep
	nowKept := big.Keep.Names[0].Path
	// Fault: a victim of the 26-byte group is rewritten after the plan.
	changed := same.Act[0].Names[0].Path
	if err := os.WriteFile(changed, []byte("new content of same size!!"), 0o644); err != nil {
		t.Fatal(err)
	}

	var ans applyAnswer
	f.post("/api/dedupe/apply", map[string]any{"plan": plan}, &ans)
	if inode(t, wasKept) != inode(t, nowKept) {
		t.Errorf("%s is not a link of %s after the inverted group was applied", wasKept, nowKept)
	}
	if len(ans.Skipped) != 1 || ans.Skipped[0].Path != changed {
		t.Errorf("skipped %+v; want only %s, changed after the plan", ans.Skipped, changed)
	}
	if b, _ := os.ReadFile(changed); string(b) != "new content of same size!!" {
		t.Errorf("%s, changed after the plan, now holds %q", changed, b)
	}
	wantApplied := 0
	for _, g := range plan.Groups {
		for _, cp := range g.Act {
			wantApplied += len(cp.Names)
		}
	}
	if ans.Applied != wantApplied-1 || len(ans.Events) != wantApplied {
		t.Errorf("applied %d with %d events; want %d and %d", ans.Applied, len(ans.Events), wantApplied-1, wantApplied)
	}
	var after dupesAnswer
	f.get("/api/dupes?machine=m1", &after)
	if after.Reclaimable >= before.Reclaimable {
		t.Errorf("/api/dupes still reclaims %d bytes after apply (was %d): the cache was not told", after.Reclaimable, before.Reclaimable)
	}
	// Applied again: nothing left to do, nothing done.
	var again applyAnswer
	status, b := f.do("POST", "/api/dedupe/apply", map[string]any{"plan": plan})
	if status == http.StatusOK {
		decode(t, b, &again)
		if again.Applied != 0 {
			t.Errorf("a plan applied twice acted on %d files the second time", again.Applied)
		}
	}
}

// TestAPIDedupeRefusesPlans: a plan that leaves a group with no copy, acts
// on the copy it keeps, or names a file the catalog does not hold as the
// plan says, is refused whole with a 400 and a sentence, and nothing on
// disk changes; so are a delete without confirmation, a GET, and a
// cross-site request.
func TestAPIDedupeRefusesPlans(t *testing.T) {
	f := newFixture(t, "")
	fresh := func() dto.DedupePlan {
		var p dto.DedupePlan
		f.post("/api/dedupe/plan", map[string]any{"action": "delete", "keep": []string{"oldest"}}, &p)
		if len(p.Groups) != 3 {
			t.Fatalf("the plan has %d groups, not 3: a plan refused before changed files", len(p.Groups))
		}
		return p
	}
	stranger := filepath.Join(t.TempDir(), "stranger.bin")
	if err := os.WriteFile(stranger, []byte(strings.Repeat("x", 5000)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, want string
		edit       func(p *dto.DedupePlan)
	}{
		{"every copy acted on", "keeps no copy", func(p *dto.DedupePlan) {
			g := &p.Groups[0]
			g.Act = append(g.Act, g.Keep)
			g.Keep = dto.DedupeCopy{}
		}},
		{"the kept copy acted on", "acts on the copy it keeps", func(p *dto.DedupePlan) {
			g := &p.Groups[0]
			g.Act = append(g.Act, g.Keep)
		}},
		{"a copy in two groups", "appears twice", func(p *dto.DedupePlan) {
			p.Groups[1].Act = append(p.Groups[1].Act, p.Groups[0].Act[0])
		}},
		{"a file the catalog does not have", "is not in the catalog", func(p *dto.DedupePlan) {
			for i := range p.Groups {
				if p.Groups[i].Size == 5000 {
					n := &p.Groups[i].Act[0].Names[0]
					n.Path = stranger
				}
			}
		}},
		{"a planned fingerprint that is not the catalog's", "is not in the catalog", func(p *dto.DedupePlan) {
			p.Groups[0].Act[0].Names[0].MtimeNS++
		}},
		{"another machine", "for machine", func(p *dto.DedupePlan) { p.Machine = "m2" }},
	} {
		p := fresh()
		c.edit(&p)
		status, b := f.do("POST", "/api/dedupe/apply", map[string]any{"plan": p, "yes": true})
		if status != http.StatusBadRequest || !strings.Contains(string(b), c.want) {
			t.Errorf("%s: %d %s; want 400 saying %q", c.name, status, b, c.want)
		}
	}
	// The page sends the plan as the server wrote it, with the copies kept.
	for _, c := range []struct {
		kept [][]int
		want string
	}{
		{[][]int{{}, {0}, {0}}, "keeps no copy"},
		{[][]int{{0, 9}, {0}, {0}}, "has no copy 9"},
		{[][]int{{0}}, "for 1 groups and the plan has 3"},
	} {
		status, b := f.do("POST", "/api/dedupe/apply", map[string]any{"plan": fresh(), "kept": c.kept, "yes": true})
		if status != http.StatusBadRequest || !strings.Contains(string(b), c.want) {
			t.Errorf("kept %v: %d %s; want 400 saying %q", c.kept, status, b, c.want)
		}
	}
	if status, b := f.do("POST", "/api/dedupe/apply", map[string]any{"plan": fresh()}); status != http.StatusBadRequest || !strings.Contains(string(b), "needs yes") {
		t.Errorf("a delete plan without yes: %d %s; want 400", status, b)
	}
	if status, _ := f.do("GET", "/api/dedupe/apply", nil); status != http.StatusMethodNotAllowed {
		t.Errorf("GET /api/dedupe/apply: %d; want 405", status)
	}
	body, _ := json.Marshal(map[string]any{"plan": fresh(), "yes": true})
	req, _ := http.NewRequest("POST", f.ts.URL+"/api/dedupe/apply", strings.NewReader(string(body)))
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a cross-site apply: %d; want 403", resp.StatusCode)
	}
	for rel, content := range sampleTree {
		if b, err := os.ReadFile(filepath.Join(f.root, rel)); err != nil || string(b) != content {
			t.Errorf("%s changed after refused plans: %q, %v", rel, b, err)
		}
	}
	if _, err := os.Stat(stranger); err != nil {
		t.Errorf("the file outside the catalog: %v", err)
	}
}
