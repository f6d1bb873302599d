package e2e

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestKillScanIndexesDeferred kills, with SIGKILL, a first scan that adds
// enough files to set the catalog's secondary indexes aside (5,000 files, on
// an empty catalog), after it set them aside and before it built them again.
// The catalog it leaves must open, health must call it degraded and name the
// indexes check, and dupes and find must still answer exactly what the
// committed rows of the tree imply, without those indexes. The next scan must
// complete, build every index set aside, and leave the same rows and the same
// indexes as one uninterrupted scan of the tree.
func TestKillScanIndexesDeferred(t *testing.T) {
	requireCommand(t, "dupes")
	requireCommand(t, "find")
	tr := newFlatTree(t)
	tr.add(t, 8000)

	// The window between the commit that sets the indexes aside and the one
	// that builds the first again is short (tens of ms for 8,000 small files
	// here): the catalog is polled on one open connection, and a kill that
	// missed it is tried again with more files after the threshold.
	var (
		c        *catalog
		deferred []string
		rowsLeft int
	)
	for attempt := 1; ; attempt++ {
		c = newCatalog(t)
		var ok bool
		deferred, ok = killWhileDeferred(t, c, tr.root)
		if ok {
			t.Logf("attempt %d (%d files): killed with %v set aside", attempt, len(tr.files), deferred)
			break
		}
		if attempt == 3 {
			t.Fatalf("%d attempts, up to %d files: the scan never was killed while its indexes were set aside", attempt, len(tr.files))
		}
		t.Logf("attempt %d (%d files): the kill missed the indexes set aside; again with more files", attempt, len(tr.files))
		tr.add(t, 8000)
	}

	// The reference: one uninterrupted scan of the same tree, which sets the
	// indexes aside and builds them too; its indexes must be the schema's,
	// those of a catalog whose scan never set any aside.
	refCat := newCatalog(t)
	if s := refCat.scan(0, tr.root); s.Status != "complete" || s.Added != int64(len(tr.files)) || s.Failed != 0 {
		t.Fatalf("reference scan: %+v", s)
	}
	ref := rows(t, refCat.path)
	if d := diff(ref, tr.files); d != "" {
		t.Fatalf("the reference scan differs from the tree: %s", d)
	}
	refIdx := catalogIndexes(t, refCat.path)
	if n := deferredIndexes(t, refCat.path); len(n) != 0 {
		t.Fatalf("an uninterrupted scan left indexes set aside: %v", n)
	}
	schema := newCatalog(t)
	small := filepath.Join(tempDir(t), "three")
	for i := range 3 {
		writeFile(t, filepath.Join(small, fmt.Sprintf("f%d", i)), []byte{byte(i)})
	}
	schema.scan(0, small)
	if d := indexDiff(refIdx, catalogIndexes(t, schema.path)); d != "" {
		t.Fatalf("indexes of the reference catalog, against those of a catalog that never set any aside: %s", d)
	}

	// The catalog the kill left: it reads with integrity, holds only right
	// rows (a subset of the tree: at least the 5,000 committed before the
	// indexes were set aside), the indexes set aside are gone from the
	// schema, none is lost, and the scan is still recorded as running.
	v := readCatalog(t, c.path)
	committed := v.present()
	if d := subsetDiff(committed, tr.files); d != "" {
		t.Fatalf("the killed scan left wrong rows: %s", d)
	}
	if len(committed) < 5000 {
		t.Fatalf("the killed scan set the indexes aside with %d files committed, fewer than 5,000", len(committed))
	}
	rowsLeft = len(committed)
	t.Logf("the killed scan committed %d of %d files", rowsLeft, len(tr.files))
	killedIdx := catalogIndexes(t, c.path)
	for _, name := range deferred {
		if name == "summary" {
			// Not an index: the triggers that keep the summary tables,
			// set aside with the indexes (internal/db/summary.go).
			continue
		}
		if _, ok := killedIdx[name]; ok {
			t.Errorf("index %s is both set aside and in the schema", name)
		}
		if _, ok := refIdx[name]; !ok {
			t.Errorf("deferred_indexes names %s, which the schema has not", name)
		}
		killedIdx[name] = "(set aside)"
	}
	for name := range refIdx {
		if _, ok := killedIdx[name]; !ok {
			t.Errorf("index %s is neither in the schema nor set aside: lost", name)
		}
	}
	if got := scanStatuses(t, c.path); len(got) != 1 || got[0] != "running" {
		t.Fatalf("scans after the kill: %q, want one still recorded as running", got)
	}
	if t.Failed() {
		return
	}

	// health: degraded, because of the indexes; nothing fails.
	r := c.mustRun(0, "--json", "health")
	var h healthReport
	if err := json.Unmarshal([]byte(r.stdout), &h); err != nil {
		t.Fatalf("health --json: %v\n%s", err, r.stdout)
	}
	if h.Status != "degraded" {
		t.Errorf("health status %q with indexes set aside, want degraded: %+v", h.Status, h.Checks)
	}
	found := false
	for _, ch := range h.Checks {
		switch {
		case ch.Name == "indexes":
			found = true
			if ch.Status != "degraded" {
				t.Errorf("health check indexes is %s with %v set aside: %s", ch.Status, deferred, ch.Detail)
			}
			for _, name := range deferred {
				if !strings.Contains(ch.Detail, name) {
					t.Errorf("health check indexes does not name %s: %s", name, ch.Detail)
				}
			}
		case ch.Status != "ok" && !(ch.Name == "last_scan" && ch.Status == "degraded"):
			t.Errorf("health check %s is %s: %s", ch.Name, ch.Status, ch.Detail)
		}
	}
	if !found {
		t.Errorf("health has no check named indexes: %+v", h.Checks)
	}

	// Queries without the indexes answer exactly what the committed rows of
	// the tree imply.
	checkDupes(t, c, tr, committed)
	checkFinds(t, c, tr, committed)
	if t.Failed() {
		return
	}

	// The next scan completes, marks the killed one interrupted, and builds
	// every index set aside.
	s := c.scan(0, tr.root)
	if s.Status != "complete" || s.Failed != 0 || s.Deleted != 0 || s.Modified != 0 ||
		s.Added != int64(len(tr.files)-rowsLeft) || s.Unchanged != int64(rowsLeft) {
		t.Fatalf("the scan after the kill: %+v; want %d added and %d unchanged", s, len(tr.files)-rowsLeft, rowsLeft)
	}
	if n := deferredIndexes(t, c.path); len(n) != 0 {
		t.Errorf("indexes still set aside after the completing scan: %v", n)
	}
	if d := indexDiff(catalogIndexes(t, c.path), refIdx); d != "" {
		t.Errorf("indexes after the completing scan, against the reference: %s", d)
	}
	if got := scanStatuses(t, c.path); len(got) != 2 || got[0] != "interrupted" || got[1] != "complete" {
		t.Errorf("scans after the completing scan: %q, want [interrupted complete]", got)
	}
	h = c.health()
	if h.Status != "ok" {
		t.Errorf("health --full after the completing scan is %s: %+v", h.Status, h.Checks)
	}
	assertCatalog(t, c.path, ref)
	checkDupes(t, c, tr, ref)
	checkFinds(t, c, tr, ref)
}

// killWhileDeferred starts a scan of root into the new catalog c and kills it
// with SIGKILL as soon as its indexes are seen set aside. It reports what
// deferred_indexes held after the kill and true when the kill was proven to
// land while they were set aside: the process died of the signal, and the
// catalog still lists indexes set aside. false means the scan got past the
// window first (it ended, or built them all before the kill).
func killWhileDeferred(t *testing.T, c *catalog, root string) ([]string, bool) {
	t.Helper()
	b := c.start("scan", "--quiet", root)
	var poll *sql.DB
	closePoll := func() {
		if poll != nil {
			poll.Close()
			poll = nil
		}
	}
	defer closePoll()
	seen := false
	deadline := time.Now().Add(time.Minute)
	for !seen && b.running() {
		if time.Now().After(deadline) {
			_ = b.cmd.Process.Kill()
			t.Fatalf("the scan neither ended nor set its indexes aside within a minute")
		}
		if poll == nil && fileExists(c.path) {
			poll = openRead(c.path, "ro")
		}
		if poll != nil {
			var n int
			switch err := poll.QueryRow("SELECT COUNT(*) FROM deferred_indexes").Scan(&n); {
			case err != nil:
				closePoll() // the schema is not committed yet: open again
			case n > 0:
				seen = true
				if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
					t.Fatal(err)
				}
			}
		}
		time.Sleep(time.Millisecond)
	}
	closePoll()
	r := b.wait()
	switch {
	case r.code == 128+int(syscall.SIGKILL):
	case r.code == 0:
		return nil, false
	default:
		t.Fatalf("the scan to kill: %s", r)
	}
	names := deferredIndexes(t, c.path)
	return names, seen && len(names) > 0
}

// openRead opens the catalog at path for reading only, in mode ro or rw (rw
// can roll a hot journal back; query_only still forbids changes).
func openRead(path, mode string) *sql.DB {
	q := url.Values{}
	q.Add("mode", mode)
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "query_only(1)")
	u := url.URL{Scheme: "file", Opaque: (&url.URL{Path: path}).EscapedPath(), RawQuery: q.Encode()}
	d, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil
	}
	d.SetMaxOpenConns(1)
	return d
}

// queryStrings runs a query of one text column on the catalog at path, which
// must exist, and returns its rows.
func queryStrings(t testing.TB, path, query string) []string {
	t.Helper()
	if !fileExists(path) {
		t.Fatalf("no catalog at %s", path)
	}
	var lastErr error
	for _, mode := range []string{"ro", "rw"} {
		d := openRead(path, mode)
		if d == nil {
			continue
		}
		out, err := func() ([]string, error) {
			defer d.Close()
			rs, err := d.Query(query)
			if err != nil {
				return nil, err
			}
			defer rs.Close()
			out := []string{}
			for rs.Next() {
				var s string
				if err := rs.Scan(&s); err != nil {
					return nil, err
				}
				out = append(out, s)
			}
			return out, rs.Err()
		}()
		if err == nil {
			return out
		}
		lastErr = err
	}
	t.Fatalf("%s on %s: %v", query, path, lastErr)
	return nil
}

// deferredIndexes lists the names in deferred_indexes.
func deferredIndexes(t testing.TB, path string) []string {
	t.Helper()
	return queryStrings(t, path, "SELECT name FROM deferred_indexes ORDER BY name")
}

// scanStatuses lists the status of every scan, oldest first.
func scanStatuses(t testing.TB, path string) []string {
	t.Helper()
	return queryStrings(t, path, "SELECT status FROM scans ORDER BY id")
}

// catalogIndexes maps the name of every index in sqlite_master to its
// statement ("" for those a constraint makes).
func catalogIndexes(t testing.TB, path string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, s := range queryStrings(t, path, `SELECT name || char(10) || COALESCE(sql, '')
		FROM sqlite_master WHERE type = 'index'`) {
		name, stmt, _ := strings.Cut(s, "\n")
		out[name] = stmt
	}
	return out
}

// indexDiff describes how the index sets got and want differ, or "".
func indexDiff(got, want map[string]string) string {
	var lines []string
	for n, w := range want {
		g, ok := got[n]
		switch {
		case !ok:
			lines = append(lines, "missing "+n)
		case g != w:
			lines = append(lines, fmt.Sprintf("%s is %q, want %q", n, g, w))
		}
	}
	for n := range got {
		if _, ok := want[n]; !ok {
			lines = append(lines, "unexpected "+n)
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "; ")
}

// flatTree is a tree of many small files in directories of 200, about a
// tenth of them copies of an earlier file, with every digest of each.
type flatTree struct {
	root    string
	rng     *rand.Rand
	earlier [][2]uint64 // (size, content seed) of files that may be copied
	files   entries     // path → sha256
	size    map[string]int64
	md5     map[string]string
	sha1    map[string]string
}

// Its directory is a tmpfs when the test may mount one: writing thousands
// of files to a busy disk can take seconds.
func newFlatTree(t testing.TB) *flatTree {
	return &flatTree{root: filepath.Join(fastDir(t), "flat"), rng: rand.New(rand.NewPCG(21, 0xdef)),
		files: entries{}, size: map[string]int64{}, md5: map[string]string{}, sha1: map[string]string{}}
}

// add writes n more files, of 1 byte to 2 KiB, in new directories.
func (tr *flatTree) add(t testing.TB, n int) {
	t.Helper()
	buf := make([]byte, 2048)
	first := len(tr.files)
	for i := first; i < first+n; i++ {
		var size, cseed uint64
		if len(tr.earlier) > 0 && tr.rng.Float64() < 0.1 {
			e := tr.earlier[tr.rng.IntN(len(tr.earlier))]
			size, cseed = e[0], e[1]
		} else {
			size, cseed = 1+tr.rng.Uint64N(2048), tr.rng.Uint64()
			tr.earlier = append(tr.earlier, [2]uint64{size, cseed})
		}
		var key [32]byte
		binary.LittleEndian.PutUint64(key[:], cseed)
		content := buf[:size]
		_, _ = rand.NewChaCha8(key).Read(content)
		p := filepath.Join(tr.root, fmt.Sprintf("d%03d", i/200), fmt.Sprintf("f%05d.bin", i))
		if i%200 == 0 {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
		s256, s1, s5 := sha256.Sum256(content), sha1.Sum(content), md5.Sum(content)
		tr.files[p], tr.sha1[p], tr.md5[p] = hex.EncodeToString(s256[:]), hex.EncodeToString(s1[:]), hex.EncodeToString(s5[:])
		tr.size[p] = int64(size)
	}
}

// writeFile writes content at p, making its directory.
func writeFile(t testing.TB, p string, content []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
}

// groupsOf groups the paths of in by content, keeping the groups of two or
// more, each sorted.
func groupsOf(in entries) map[string][]string {
	all := map[string][]string{}
	for p, h := range in {
		all[h] = append(all[h], p)
	}
	out := map[string][]string{}
	for h, ps := range all {
		if len(ps) > 1 {
			sort.Strings(ps)
			out[h] = ps
		}
	}
	return out
}

// checkDupes checks `dupes --json` against the groups the rows present (a
// subset of the tree) imply: every group, with its size and count, and the
// totals.
func checkDupes(t *testing.T, c *catalog, tr *flatTree, present entries) {
	t.Helper()
	want := groupsOf(present)
	if len(want) == 0 {
		t.Fatal("the rows hold no duplicates: the test proves nothing")
	}
	r := c.mustRun(0, "--json", "dupes")
	var d dupesJSON
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("dupes --json: %v\n%.2000s", err, r.stdout)
	}
	got := map[string][]string{}
	files := 0
	for _, g := range d.Groups {
		var ps []string
		for _, f := range g.Files {
			ps = append(ps, f.Path)
		}
		sort.Strings(ps)
		if _, dup := got[g.SHA256]; dup {
			t.Errorf("dupes lists group %s twice", g.SHA256)
		}
		got[g.SHA256] = ps
		files += len(ps)
		if w, ok := want[g.SHA256]; ok && (g.Count != len(w) || g.Size != tr.size[w[0]]) {
			t.Errorf("dupes group %s: count %d size %d, want %d and %d", g.SHA256, g.Count, g.Size, len(w), tr.size[w[0]])
		}
	}
	var lines []string
	for h, w := range want {
		if g := got[h]; !samePaths(g, w) {
			lines = append(lines, fmt.Sprintf("group %s: %q, want %q", h, g, w))
		}
	}
	for h, g := range got {
		if _, ok := want[h]; !ok {
			lines = append(lines, fmt.Sprintf("unexpected group %s: %q", h, g))
		}
	}
	if len(lines) > 0 {
		sort.Strings(lines)
		t.Errorf("dupes differs from the rows (%d groups, want %d): %d differences:\n  %s",
			len(got), len(want), len(lines), strings.Join(lines[:min(10, len(lines))], "\n  "))
	}
	if d.GroupsTotal != len(want) || d.FilesTotal != files {
		t.Errorf("dupes totals: %d groups, %d files; want %d and %d", d.GroupsTotal, d.FilesTotal, len(want), files)
	}
}

// checkFinds checks find against the rows present (a subset of the tree):
// everything under the root, one file by name, and the copies of one content
// by each of its three digests, whose indexes may be the ones set aside.
func checkFinds(t *testing.T, c *catalog, tr *flatTree, present entries) {
	t.Helper()
	if d := diff(findAll(t, c, tr.root), present); d != "" {
		t.Errorf("find --under %s differs from the rows: %s", tr.root, d)
	}
	paths := make([]string, 0, len(present))
	for p := range present {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	one := paths[len(paths)/2]
	if d := diff(findWith(t, c, "--name", filepath.Base(one)), entries{one: present[one]}); d != "" {
		t.Errorf("find --name %s: %s", filepath.Base(one), d)
	}
	groups := groupsOf(present)
	var sums []string
	for h := range groups {
		sums = append(sums, h)
	}
	sort.Strings(sums)
	g := groups[sums[0]]
	want := entries{}
	for _, p := range g {
		want[p] = present[p]
	}
	for _, digest := range []string{tr.md5[g[0]], tr.sha1[g[0]], tr.files[g[0]]} {
		if d := diff(findWith(t, c, "--hash", digest), want); d != "" {
			t.Errorf("find --hash %s: %s", digest, d)
		}
	}
}

// findWith runs `find --json args...` and returns what it lists, by path.
func findWith(t testing.TB, c *catalog, args ...string) entries {
	t.Helper()
	r := c.mustRun(0, append([]string{"--json", "find"}, args...)...)
	var es []findEntry
	if err := json.Unmarshal([]byte(r.stdout), &es); err != nil {
		t.Fatalf("find --json %q: %v\n%.2000s", args, err, r.stdout)
	}
	out := entries{}
	for _, e := range es {
		if e.Operation == "DEL" {
			t.Fatalf("find %q listed %+v", args, e)
		}
		out[exactPath(t, e.Path, e.PathB64)] = e.SHA256
	}
	return out
}
