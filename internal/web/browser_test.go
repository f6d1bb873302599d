package web_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// browser starts a headless Debian chromium for t and returns a context to
// drive it, plus a function reporting every JavaScript exception and
// console.error seen so far. Without chromium the test is skipped, except
// under CI=true, where that is a failure.
func browser(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	bin := ""
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed; .ci/run installs it (apt-get install chromium)")
		}
		t.Skip("chromium is not installed")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1200, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(t.Context(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	var mu sync.Mutex
	var problems []string
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			problems = append(problems, fmt.Sprintf("exception: %s %+v", e.ExceptionDetails.Text, e.ExceptionDetails.Exception))
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				problems = append(problems, "console.error: "+strings.Join(args, " "))
			}
		}
	})
	if err != nil {
		t.Fatalf("listen to chromium: %v", err)
	}
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), problems...)
	}
}

// page drives one tab with small steps that fail the test on error.
type page struct {
	t   *testing.T
	ctx context.Context
}

func (p page) do(a chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, a); err != nil {
		p.t.Fatal(err)
	}
}

func (p page) js(expr string) string {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[string]("String("+expr+")"))
	if err != nil {
		p.t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// waitText waits until the element sel holds text containing want.
func (p page) waitText(sel, want string) {
	p.t.Helper()
	var got string
	for range 400 {
		got = p.js(fmt.Sprintf("(document.querySelector(%q) || {}).innerText || ''", sel))
		if strings.Contains(got, want) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.t.Fatalf("%s never showed %q; it shows %q", sel, want, got)
}

// TestBrowserPages drives every page in chromium against a real catalog:
// each renders the catalog's data, /dupes filters and pages, and a scan
// started on /scans shows live progress and its summary. Any JavaScript
// exception or console.error fails it. With -update it writes
// docs/serve-dupes.png, the screenshot the docs show.
// update rewrites the committed screenshot: go test ./internal/web -run TestBrowserPages -update
var update = flag.Bool("update", false, "rewrite docs/serve-dupes.png")

func TestBrowserPages(t *testing.T) {
	f := newFixture(t, "")
	ctx, problems := browser(t)
	var sha string
	{
		var rows []struct{ SHA256 string }
		decode(t, f.cli("find", "--json", "--name", "big1.bin"), &rows)
		sha = rows[0].SHA256
	}
	more := filepath.Join(t.TempDir(), "more")
	writeTree(t, more, map[string]string{"p/q.txt": "live", "r.txt": "scan"})
	p := page{t, ctx}
	go_ := func(path string) { p.do(chromedp.Navigate(f.ts.URL + path)) }

	go_("/")
	p.waitText("#totals", "Reclaimable")
	p.waitText("#machines", "m2")
	p.waitText("#topdupes", "KiB")
	p.waitText("#lastscans", "complete")
	p.waitText("#health", "Catalog ok")

	go_("/dupes")
	p.waitText("#summary", "3 groups")
	p.waitText("#groups", "big1.bin")
	n1, _ := strconv.Atoi(p.js(`document.querySelectorAll("#groups section").length`))
	p.js(`(document.querySelector('input[name="ext"]').value = "jpg", document.querySelector('#filters button[type="submit"]').click(), 1)`)
	p.waitText("#summary", "1 groups, 4 files")
	p.waitText("#groups", "mid2.JPG")
	go_("/dupes?min_size=0")
	p.waitText("#summary", "4 groups")
	n2, _ := strconv.Atoi(p.js(`document.querySelectorAll("#groups section").length`))
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(90))
	if err != nil {
		t.Fatal(err)
	}

	go_("/search?name=*.txt")
	p.waitText("#results", "unique.txt")
	p.waitText("#summary", "Results 1")

	go_("/tree?machine=m1&path=" + f.root)
	p.waitText("#tree", "unique.txt")
	p.js(`(document.querySelector("#tree button.dir").click(), 1)`)
	p.waitText("#tree", "big1.bin")

	go_("/file?hash=" + sha)
	p.waitText("#file", sha)
	p.waitText("#file", "3 places")

	go_("/scans")
	p.waitText("#recent", "complete")
	p.js(fmt.Sprintf(`(document.querySelector('textarea[name="roots"]').value = %q, document.querySelector('#startscan button[type="submit"]').click(), 1)`, more))
	p.waitText("#live-progress", "files")
	p.waitText("#live-summary", "complete: 2 files seen, 2 added")

	if n1 != 3 || n2 != 4 {
		t.Errorf("/dupes shows %d groups, then %d with min_size=0; want 3 and 4", n1, n2)
	}
	for _, p := range problems() {
		t.Error(p)
	}
	if len(shot) == 0 {
		t.Error("the browser took no screenshot of /dupes")
	}
	if *update && len(shot) > 0 {
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "serve-dupes.png"), shot, 0o644); err != nil {
			t.Logf("screenshot not written: %v", err)
		}
	}
}

// TestBrowserDedupe builds a plan on /dupes, sees the server refuse it with
// a group left without a copy, inverts a group, applies the plan and sees
// the files trashed on disk and the listing change.
func TestBrowserDedupe(t *testing.T) {
	f := newFixture(t, "")
	ctx, problems := browser(t)
	p := page{t, ctx}
	p.do(chromedp.Navigate(f.ts.URL + "/dupes"))
	p.waitText("#summary", "3 groups")
	p.js(`(document.querySelector('#planform select[name="action"]').value = "trash",
		document.querySelector('#planform select[name="keep"]').value = "shortest-path",
		document.querySelector('#planform button[type="submit"]').click(), 1)`)
	p.waitText("#plansummary", "Plan: trash")
	if n := p.js(`document.querySelectorAll("#plan section").length`); n != "3" {
		t.Fatalf("the plan shows %s groups; want 3", n)
	}
	big1, big2 := filepath.Join(f.root, "a/big1.bin"), filepath.Join(f.root, "c/big2.bin")
	bigGroup := fmt.Sprintf(`[...document.querySelectorAll("#plan section")].find((s) => s.innerText.includes(%q))`, big1)
	if kept := p.js(bigGroup + `.querySelector("input.keep:checked").getAttribute("aria-label")`); kept != "keep "+big1 {
		t.Fatalf("the plan keeps %q in the big group; want %s (shortest path, then path order)", kept, big1)
	}

	// Fault: no copy kept in a group. The server refuses the whole plan.
	p.js(bigGroup + `.querySelector("input.keep:checked").click()`)
	p.js(`document.querySelector("#applyplan").click()`)
	p.waitText("#applied", "keeps no copy")
	for _, path := range []string{big1, big2} {
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("a refused plan touched %s: %v", path, err)
		}
	}

	// Tick the kept copy again, then invert the group: keep big2, trash big1.
	p.js(bigGroup + `.querySelector("input.keep").click()`)
	p.js(bigGroup + `.querySelector("button.invert").click()`)
	p.js(`document.querySelector("#applyplan").click()`)
	p.waitText("#applied", "Applied")
	p.waitText("#applied", "Undo with: indexer dedupe undo")
	if _, err := os.Stat(big1); !os.IsNotExist(err) {
		t.Errorf("%s, acted on after the group was inverted, is still there: %v", big1, err)
	}
	if _, err := os.Stat(big2); err != nil {
		t.Errorf("%s, kept after the group was inverted: %v", big2, err)
	}
	gone := false
	for range 400 {
		if g := p.js(`document.querySelector("#groups").innerText`); !strings.Contains(g, big1) && strings.Contains(g, big2) {
			gone = true
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !gone {
		t.Errorf("the listing still shows %s after it was trashed", big1)
	}
	for _, p := range problems() {
		t.Error(p)
	}
}
