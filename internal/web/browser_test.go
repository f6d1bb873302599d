package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
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

	"github.com/indexer/indexer/internal/web"
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

// waitTrue waits until the JavaScript expression expr is true.
func (p page) waitTrue(expr string) {
	p.t.Helper()
	for range 400 {
		if p.js("String(Boolean("+expr+"))") == "true" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.t.Fatalf("%s never became true", expr)
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
	var sha, sha1, md5 string
	{
		var rows []struct{ SHA256, SHA1, MD5 string }
		decode(t, f.cli("find", "--json", "--name", "big1.bin"), &rows)
		sha, sha1, md5 = rows[0].SHA256, rows[0].SHA1, rows[0].MD5
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
	// Each file with its path, machine, size, modification time (writeTree
	// gives a/big1.bin 2020-01-02 12:00 UTC) and a copy button.
	big1 := p.js(`[...document.querySelectorAll("#groups tr")].find((r) => r.innerText.includes("big1.bin")).innerText`)
	for _, want := range []string{filepath.Join(f.root, "a/big1.bin"), "m1", "4.9 KiB", "2020-01-02 12:00", "copy"} {
		if !strings.Contains(big1, want) {
			t.Errorf("the /dupes row of a/big1.bin shows %q; want %q in it", big1, want)
		}
	}
	// The copy buttons copy a path that names the file when pasted into a
	// shell, a name that is not UTF-8 included.
	for name, tail := range map[string]string{"a/big1.bin": "/big1.bin", "bad-\xff-name.txt": `\xff-name.txt'`} {
		want := filepath.Join(f.root, name)
		copied := p.js(fmt.Sprintf(`[...document.querySelectorAll("#groups button.copy")].map((b) => b.dataset.copy).find((c) => c.endsWith(%q))`, tail))
		out, err := exec.Command("bash", "-c", "cat -- "+copied).Output()
		if err != nil || string(out) != sampleTree[name] {
			t.Errorf("the copy button of %q copies %q, which bash reads as %q (%v); want the file's content", want, copied, out, err)
		}
	}
	n1, _ := strconv.Atoi(p.js(`document.querySelectorAll("#groups section").length`))
	p.js(`(document.querySelector('input[name="ext"]').value = "jpg", document.querySelector('#filters button[type="submit"]').click(), 1)`)
	p.waitText("#summary", "1 groups, 4 files")
	p.waitText("#groups", "mid2.JPG")
	go_("/dupes?min_size=0")
	p.waitText("#summary", "4 groups")
	n2, _ := strconv.Atoi(p.js(`document.querySelectorAll("#groups section").length`))
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG; less is JPEG
	if err != nil {
		t.Fatal(err)
	}

	go_("/search?name=*.txt")
	p.waitText("#results", "unique.txt")
	p.waitText("#summary", "Results 1")
	go_("/search")
	p.js(`(document.querySelector('input[name="q"]').value = "c/d/", document.querySelector('#filters button[type="submit"]').click(), 1)`)
	p.waitText("#summary", "Results 1–4")
	p.waitText("#results", "mid2.JPG")
	if got := p.js("location.search"); got != "?q=c%2Fd%2F" {
		t.Errorf("a search by path text leaves the URL %q; want ?q=c%%2Fd%%2F", got)
	}
	go_("/search?hash=" + md5)
	p.waitText("#summary", "Results 1–3")
	p.waitText("#results", "big2.bin")

	go_("/tree?machine=m1&path=" + f.root)
	p.waitText("#tree", "unique.txt")
	p.js(`(document.querySelector("#tree button.dir").click(), 1)`)
	p.waitText("#tree", "big1.bin")

	// Reached by any of the three digests, it shows all three, and every
	// place of the content.
	for _, h := range []string{sha, sha1, md5} {
		go_("/file?hash=" + h)
		p.waitText("#file", "3 places")
		for _, want := range []string{sha, sha1, md5, filepath.Join(f.root, "a/big1.bin"), filepath.Join(f.root, "c/big2.bin"), "m2"} {
			p.waitText("#file", want)
		}
	}

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
	if !bytes.HasPrefix(shot, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("the screenshot of /dupes, for docs/serve-dupes.png, is no PNG: it starts %q", shot[:min(len(shot), 8)])
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

// TestBrowserDupesPaging pages through more duplicate groups than /dupes
// shows at once: Next shows the following groups, Previous and the browser's
// Back return, every group comes once across the pages, in the order of
// dupes --json, and a page's URL, opened afresh, shows that page again.
// pagingTree has 45 duplicate groups of 2 or 3 files, 102 files in all:
// more than one page of /dupes and of /search.
func pagingTree() map[string]string {
	tree := map[string]string{}
	for i := range 45 {
		content := strings.Repeat(fmt.Sprintf("group %02d ", i), i%9+1)
		tree[fmt.Sprintf("g%02d/a.txt", i)] = content
		tree[fmt.Sprintf("g%02d/b.txt", i)] = content
		if i%4 == 0 {
			tree[fmt.Sprintf("x/g%02d-c.txt", i)] = content
		}
	}
	return tree
}

func TestBrowserDupesPaging(t *testing.T) {
	const groups, perPage = 45, 20 // perPage: dupes() in static/app.js
	f := newFixtureTree(t, "", web.Config{}, pagingTree())
	f.serve()
	var cli struct{ Groups []struct{ SHA256 string } }
	decode(t, f.cli("dupes", "--json"), &cli)
	var want []string
	for _, g := range cli.Groups {
		want = append(want, g.SHA256)
	}
	if len(want) != groups {
		t.Fatalf("dupes --json lists %d groups; the fixture makes %d", len(want), groups)
	}

	ctx, problems := browser(t)
	p := page{t, ctx}
	// shown returns the contents of the groups on the page, in order.
	shown := func() []string {
		list := p.js(`[...document.querySelectorAll("#groups section h2 a")].map((a) => new URL(a.href).searchParams.get("hash")).join(" ")`)
		return strings.Fields(list)
	}
	state := func() string {
		return p.js(`location.search + " prev=" + document.querySelector("#prev").disabled + " next=" + document.querySelector("#next").disabled`)
	}
	wantPage := func(n int, search string, got []string) {
		t.Helper()
		from, to := (n-1)*perPage, min(n*perPage, groups)
		if strings.Join(got, " ") != strings.Join(want[from:to], " ") {
			t.Errorf("page %d shows groups\n%v\nwant groups %d to %d of dupes --json\n%v", n, got, from+1, to, want[from:to])
		}
		wantState := fmt.Sprintf("%s prev=%v next=%v", search, n == 1, to == groups)
		if s := state(); s != wantState {
			t.Errorf("page %d: URL and buttons %q; want %q", n, s, wantState)
		}
	}

	p.do(chromedp.Navigate(f.ts.URL + "/dupes"))
	p.waitText("#summary", "45 groups")
	p.waitText("#pageno", "page 1")
	page1 := shown()
	wantPage(1, "?min_size=1&sort=reclaimable", page1)

	// Next by mouse, twice.
	p.do(chromedp.Click(chromedp.CSS("#next")))
	p.waitText("#pageno", "page 2")
	page2 := shown()
	wantPage(2, "?min_size=1&sort=reclaimable&offset=20", page2)
	page2URL := p.js("location.href")
	p.do(chromedp.Click(chromedp.CSS("#next")))
	p.waitText("#pageno", "page 3")
	p.waitText("#summary", "groups 41–45 shown")
	page3 := shown()
	wantPage(3, "?min_size=1&sort=reclaimable&offset=40", page3)
	all := append(append(append([]string{}, page1...), page2...), page3...)
	if strings.Join(all, " ") != strings.Join(want, " ") {
		t.Errorf("the three pages together show\n%v\nwant every group once, as dupes --json lists them\n%v", all, want)
	}

	// Previous by keyboard: focus it and press Enter.
	p.do(chromedp.Focus(chromedp.CSS("#prev")))
	p.do(chromedp.KeyEvent("\r"))
	p.waitText("#pageno", "page 2")
	wantPage(2, "?min_size=1&sort=reclaimable&offset=20", shown())

	// The browser's Back undoes the last step, Previous, and shows page 3
	// again; twice more, and it shows page 1.
	p.do(chromedp.NavigateBack())
	p.waitText("#pageno", "page 3")
	wantPage(3, "?min_size=1&sort=reclaimable&offset=40", shown())
	p.do(chromedp.NavigateBack())
	p.do(chromedp.NavigateBack())
	p.waitText("#pageno", "page 1")
	wantPage(1, "?min_size=1&sort=reclaimable", shown())

	// A bookmarked page opened afresh.
	p.do(chromedp.Navigate(page2URL))
	p.waitText("#summary", "groups 21–40 shown")
	wantPage(2, "?min_size=1&sort=reclaimable&offset=20", shown())

	// A filter starts again at page 1, and pages within what it selects:
	// "/g1" is in the paths of groups 10 to 19 only (the temporary
	// directory's name may hold "g1").
	p.js(`(document.querySelector('input[name="q"]').value = "/g1", document.querySelector('#filters button[type="submit"]').click(), 1)`)
	p.waitText("#summary", "10 groups")
	if s := state(); s != "?min_size=1&q=%2Fg1&sort=reclaimable prev=true next=true" {
		t.Errorf("after filtering: URL and buttons %q; want page 1 of the filtered groups, alone", s)
	}
	if n := len(shown()); n != 10 {
		t.Errorf("the filter q=/g1 shows %d groups; want 10", n)
	}

	// A hard link, scanned: both its names are marked [linked], the other
	// copies not.
	if err := os.Link(filepath.Join(f.root, "g00/a.txt"), filepath.Join(f.root, "g00/a-link.txt")); err != nil {
		t.Fatal(err)
	}
	f.cli("--machine", "m1", "scan", "-q", f.root)
	p.do(chromedp.Navigate(f.ts.URL + "/dupes?q=/g00/"))
	p.waitText("#summary", "1 groups, 3 files") // a.txt, a-link.txt, b.txt
	rows := p.js(`[...document.querySelectorAll("#groups tbody tr")].map((r) => r.cells[0].innerText).join("\n")`)
	for _, want := range []string{"g00/a-link.txt [linked]", "g00/a.txt [linked]"} {
		if !strings.Contains(rows, want) {
			t.Errorf("/dupes?q=/g00/ shows\n%s\nwant a line ending %q", rows, want)
		}
	}
	if strings.Count(rows, "[linked]") != 2 {
		t.Errorf("/dupes?q=/g00/ shows\n%s\nwant [linked] on the two names of the hard link only", rows)
	}

	for _, p := range problems() {
		t.Error(p)
	}
}

// TestBrowserPhoneWidth opens every page at a phone's width (360 CSS pixels,
// as a mobile browser lays it out) with its data shown, every column of it
// (a scan's status, a file's time): nothing is wider than the screen, so
// nothing needs sideways scrolling, and all text is at least 12 pixels high.
func TestBrowserPhoneWidth(t *testing.T) {
	f := newFixture(t, "")
	var rows []struct{ SHA256 string }
	decode(t, f.cli("find", "--json", "--name", "big1.bin"), &rows)
	ctx, problems := browser(t)
	p := page{t, ctx}
	p.do(chromedp.EmulateViewport(360, 740, chromedp.EmulateMobile))
	for _, c := range []struct{ path, sel, want string }{
		{"/", "#health", "Catalog ok"},
		{"/dupes", "#groups", "2020-01-02 12:00"}, // a/big1.bin's time: no column is hidden
		{"/search?name=unique.txt", "#results", "2020-01-11 12:00"},
		{"/tree?machine=m1&path=" + url.QueryEscape(f.root), "#tree", "unique.txt"},
		{"/file?hash=" + rows[0].SHA256, "#file", "3 places"},
		{"/scans", "#recent", "complete"},
	} {
		p.do(chromedp.Navigate(f.ts.URL + c.path))
		p.waitText(c.sel, c.want)
		if w := p.js(`document.documentElement.scrollWidth + " " + window.innerWidth`); !fits(w) {
			wide := p.js(`[...document.querySelectorAll("body *")].filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5).slice(0, 5).map((e) => e.tagName + "." + e.className + " " + Math.round(e.getBoundingClientRect().right)).join(", ")`)
			t.Errorf("%s at phone width: the page is %s pixels wide for a %s-pixel screen; too wide: %s", c.path, strings.Fields(w)[0], strings.Fields(w)[1], wide)
		}
		if small := p.js(`[...document.querySelectorAll("body *")].filter((e) => e.offsetParent !== null && e.childNodes.length > 0 && [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim() !== "") && parseFloat(getComputedStyle(e).fontSize) < 12).map((e) => e.tagName + " " + getComputedStyle(e).fontSize).join(", ")`); small != "" {
			t.Errorf("%s at phone width: text smaller than 12 pixels: %s", c.path, small)
		}
	}
	for _, p := range problems() {
		t.Error(p)
	}
}

// fits tells whether "a b" holds a <= b.
func fits(s string) bool {
	var a, b int
	_, err := fmt.Sscan(s, &a, &b)
	return err == nil && a <= b
}

// TestBrowserSearchPaging pages through search results by name: Next and
// Previous, every row once across the pages in the order of find --json,
// the page in the URL.
func TestBrowserSearchPaging(t *testing.T) {
	const perPage = 50 // search() in static/app.js
	f := newFixtureTree(t, "", web.Config{}, pagingTree())
	f.serve()
	var cli []struct{ Path string }
	decode(t, f.cli("find", "--json", "--name", "*.txt"), &cli)
	var want []string
	for _, r := range cli {
		want = append(want, r.Path)
	}
	if len(want) != 102 {
		t.Fatalf("find --json --name '*.txt' lists %d files; the fixture has 102", len(want))
	}
	ctx, problems := browser(t)
	p := page{t, ctx}
	shown := func() []string {
		return strings.Split(p.js(`[...document.querySelectorAll("#results tbody tr")].map((r) => r.cells[0].innerText).join("\n")`), "\n")
	}
	p.do(chromedp.Navigate(f.ts.URL + "/search"))
	p.js(`(document.querySelector('input[name="name"]').value = "*.txt", document.querySelector('#filters button[type="submit"]').click(), 1)`)
	// The page's own first listing (every file) also reads "Results 1–50":
	// wait for the search's, which has its URL and enables Next when shown.
	p.waitTrue(`location.search === "?name=*.txt" && !document.querySelector("#next").disabled`)
	p.waitText("#summary", "Results 1–50, more follow")
	all := shown()
	p.do(chromedp.Click(chromedp.CSS("#next")))
	p.waitText("#summary", "Results 51–100, more follow")
	if got := p.js("location.search"); got != "?name=*.txt&offset=50" {
		t.Errorf("page 2 of the search has the URL %q; want ?name=*.txt&offset=50", got)
	}
	all = append(all, shown()...)
	p.do(chromedp.Click(chromedp.CSS("#next")))
	p.waitText("#summary", "Results 101–102")
	if next := p.js(`document.querySelector("#next").disabled`); next != "true" {
		t.Errorf("on the last page, Next is enabled")
	}
	all = append(all, shown()...)
	if strings.Join(all, "\n") != strings.Join(want, "\n") {
		t.Errorf("the three pages show\n%v\nwant every file once, as find --json lists them\n%v", all, want)
	}
	p.do(chromedp.Click(chromedp.CSS("#prev")))
	p.waitText("#summary", "Results 51–100, more follow")
	if got := strings.Join(shown(), "\n"); got != strings.Join(want[perPage:2*perPage], "\n") {
		t.Errorf("Previous from page 3 shows\n%s\nwant files 51 to 100", got)
	}
	for _, p := range problems() {
		t.Error(p)
	}
}

// TestBrowserKeyboard uses pages with the keyboard alone: Tab to a
// directory of /tree and Enter opens it; on /dupes, Tab to the extension
// filter, type, Enter applies it; Tab reaches a copy button and the dedupe
// form. (TestBrowserDupesPaging pages with Enter on Previous.)
func TestBrowserKeyboard(t *testing.T) {
	f := newFixture(t, "")
	ctx, problems := browser(t)
	p := page{t, ctx}
	// tabTo presses Tab until the focused element matches sel.
	tabTo := func(sel string) {
		t.Helper()
		for range 60 {
			p.do(chromedp.KeyEvent("\t"))
			if p.js(fmt.Sprintf("document.activeElement.matches(%q)", sel)) == "true" {
				return
			}
		}
		t.Fatalf("Tab never reaches %s; the focus is on %s", sel, p.js("document.activeElement.outerHTML.slice(0, 120)"))
	}

	p.do(chromedp.Navigate(f.ts.URL + "/tree?machine=m1&path=" + url.QueryEscape(f.root)))
	p.waitText("#tree", "unique.txt")
	tabTo("#tree button.dir")
	if got := p.js("document.activeElement.innerText"); !strings.HasPrefix(got, "a/") {
		t.Fatalf("the first directory Tab reaches is %q; want a/", got)
	}
	p.do(chromedp.KeyEvent("\r"))
	p.waitText("#tree", "big1.bin")
	if got := p.js("document.activeElement.getAttribute('aria-expanded')"); got != "true" {
		t.Errorf("the opened directory's button says aria-expanded=%s; want true", got)
	}

	p.do(chromedp.Navigate(f.ts.URL + "/dupes"))
	p.waitText("#summary", "3 groups")
	tabTo(`input[name="ext"]`)
	p.do(chromedp.KeyEvent("jpg\r"))
	p.waitText("#summary", "1 groups, 4 files")
	if got := p.js("location.search"); !strings.Contains(got, "ext=jpg") {
		t.Errorf("the filter typed and applied by keyboard leaves the URL %q; want ext=jpg in it", got)
	}
	tabTo("#groups button.copy")
	tabTo(`#planform button[type="submit"]`)
	for _, p := range problems() {
		t.Error(p)
	}
}

// TestBrowserScanCancel starts a scan of a tree holding a large sparse file
// on /scans, sees it run with its totals, time left and the big file's
// share read, cancels it with the Cancel button and sees its summary say
// interrupted; the small files it hashed are in the catalog.
func TestBrowserScanCancel(t *testing.T) {
	f := newFixture(t, "")
	tree := filepath.Join(t.TempDir(), "big")
	writeTree(t, tree, map[string]string{"kept1.txt": "one", "sub/kept2.txt": "two"})
	img, err := os.Create(filepath.Join(tree, "disk.img"))
	if err != nil {
		t.Fatal(err)
	}
	if err := img.Truncate(64 << 30); err != nil { // sparse: minutes to hash
		t.Fatal(err)
	}
	img.Close()
	ctx, problems := browser(t)
	p := page{t, ctx}
	p.do(chromedp.Navigate(f.ts.URL + "/scans"))
	p.waitText("#recent", "complete")
	p.js(fmt.Sprintf(`(document.querySelector('textarea[name="roots"]').value = %q, document.querySelector('#startscan button[type="submit"]').click(), 1)`, tree))
	// The count of the roots done: out of what, and the time left; the big
	// file read for over a second, how far.
	p.waitText("#live-progress", "of 3 files")
	p.waitText("#live-progress", "left")
	p.waitText("#live-slow", "Reading "+filepath.Join(tree, "disk.img")+": ")
	p.waitText("#live-slow", "of 64.0 GiB (")
	p.do(chromedp.Click(chromedp.CSS("#cancel")))
	p.waitText("#live-summary", "interrupted: 2 files seen, 2 added")
	if hidden := p.js(`document.querySelector("#cancel").hidden`); hidden != "true" {
		t.Errorf("the Cancel button is still shown after the scan ended")
	}
	p.waitText("#recent", "interrupted")
	var found struct{ Files []json.RawMessage }
	f.get("/api/find?name=kept*", &found)
	if len(found.Files) != 2 {
		t.Errorf("after the cancel, find kept* gives %d files; want the 2 hashed before it", len(found.Files))
	}
	for _, p := range problems() {
		t.Error(p)
	}
}
