package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/pgtest"
)

// pgRows reads a PostgreSQL catalog's present plain files, by machine.
func pgRows(t testing.TB, url string) map[string]entries {
	t.Helper()
	x, err := sqlx.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	rows, err := x.Query(`SELECT machine, path, COALESCE(encode(sha256, 'hex'), '') FROM files
		WHERE operation <> 'DEL' AND archive_path = ''`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]entries{}
	for rows.Next() {
		var m, sum string
		var path []byte
		if err := rows.Scan(&m, &path, &sum); err != nil {
			t.Fatal(err)
		}
		if out[m] == nil {
			out[m] = entries{}
		}
		out[m][string(path)] = sum
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// pgCount counts machine's file rows in a PostgreSQL catalog; -1 while the
// catalog cannot be read yet.
func pgCount(url, machine string) int {
	x, err := sqlx.Open("pgx", url)
	if err != nil {
		return -1
	}
	defer x.Close()
	var n int
	if err := x.Get(&n, "SELECT COUNT(*) FROM files WHERE machine = $1", machine); err != nil {
		return -1
	}
	return n
}

// TestPostgresConcurrentMachines is issue 14's shared catalog as a household
// uses it: four scans with four --machine names of four trees at once into
// one PostgreSQL catalog, while a fifth process queries it in a loop. Every
// process exits 0 and no user sees a lock conflict; the catalog equals the
// union of four reference scans (SQLite, one tree each); dupes over it lists
// what jdupes -r lists over the four trees; and a scan killed with SIGKILL
// part-way, then run again, leaves its machine's rows exact and touches no
// other machine's.
func TestPostgresConcurrentMachines(t *testing.T) {
	url := pgtest.URL(t)
	n := 800
	if testing.Short() {
		n = 300
	}
	var roots []string
	refs := map[string]entries{}
	union := entries{}
	for i := range 4 {
		tr, err := generate(filepath.Join(tempDir(t), fmt.Sprintf("tree%d", i)), n, uint64(40+i))
		if err != nil {
			t.Fatal(err)
		}
		roots = append(roots, tr.root)
		refs[fmt.Sprintf("pc%d", i)] = reference(t, tr.root, tr.files)
		union = union.merge(refs[fmt.Sprintf("pc%d", i)])
	}
	c := &catalog{t: t, path: url}

	var scans []*background
	for i, root := range roots {
		scans = append(scans, c.start("scan", "--quiet", "--machine", fmt.Sprintf("pc%d", i), root))
	}
	running := func() bool {
		for _, s := range scans {
			if s.running() {
				return true
			}
		}
		return false
	}
	var wg sync.WaitGroup
	var readerErr error
	rounds := 0
	wg.Go(func() {
		for pgCount(url, "pc0") < 0 && running() {
			time.Sleep(5 * time.Millisecond)
		}
		queries := [][]string{{"--json", "dupes"}, {"--json", "stats"}, {"--json", "find", "--under", roots[1]}, {"--json", "health"}}
		for ; rounds < 200 && running(); rounds++ {
			for _, q := range queries {
				if err := checkQuery(execute(t, c.command(q...)), union); err != nil {
					readerErr = err
					return
				}
			}
		}
	})
	for _, s := range scans {
		r := s.wait()
		if r.code != 0 {
			t.Errorf("concurrent scan: %s", r)
		}
		noPanic(t, r)
		for _, w := range append(busyWords, "deadlock", "could not serialize") {
			if strings.Contains(r.stderr, w) {
				t.Errorf("a scan's user saw %q: %s", w, r)
			}
		}
	}
	wg.Wait()
	if readerErr != nil {
		t.Fatalf("query during the scans: %v", readerErr)
	}
	t.Logf("%d rounds of queries ran during the scans", rounds)
	got := pgRows(t, url)
	if len(got) != len(refs) {
		t.Errorf("machines %d, want %d", len(got), len(refs))
	}
	for m, ref := range refs {
		if d := diff(got[m], ref); d != "" {
			t.Errorf("machine %s differs from its reference scan: %s", m, d)
		}
	}

	// Over several machines the exact formats need --machine, so the groups
	// come from the JSON: the trees' roots differ, so the paths alone are
	// what jdupes names.
	var listing struct {
		Groups []struct {
			Files []struct{ Path string }
		}
	}
	if err := json.Unmarshal([]byte(c.mustRun(0, "dupes", "--json").stdout), &listing); err != nil {
		t.Fatal(err)
	}
	var zb strings.Builder
	for _, g := range listing.Groups {
		for _, f := range g.Files {
			zb.WriteString(f.Path + "\x00")
		}
		zb.WriteString("\x00")
	}
	zero := zb.String()
	j, err := exec.Command(jdupes(t), append([]string{"-r", "-0", "-q"}, roots...)...).Output()
	if err != nil {
		t.Fatalf("jdupes: %v", err)
	}
	if !bytes.HasSuffix(j, []byte("\x00\x00")) {
		j = append(j, 0)
	}
	if got, want := sorted(nulGroups(t, zero)), sorted(nulGroups(t, string(j))); !reflect.DeepEqual(got, want) || len(got) == 0 {
		t.Errorf("indexer dupes -0 lists %d groups, jdupes -r -0 %d; they differ", len(got), len(want))
		for i := range min(len(got), len(want)) {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Errorf("first difference: indexer %q, jdupes %q", got[i], want[i])
				break
			}
		}
	}

	// stats reads the totals the triggers kept while the scans wrote at
	// once: they equal what it counts from the rows, with the summary
	// marked stale as while a scan has it set aside. The end of each
	// scan folded the rows of content_totals that the transactions before
	// it wrote into one: the last left one.
	fromSummary := statsCounts(t, c.mustRun(0, "--json", "stats").stdout)
	pgExec(t, url, "INSERT INTO deferred_indexes (name, sql) VALUES ('summary', 'SELECT 1')")
	fromRows := statsCounts(t, c.mustRun(0, "--json", "stats").stdout)
	pgExec(t, url, "DELETE FROM deferred_indexes WHERE name = 'summary'")
	if fromSummary != fromRows || fromRows.Groups == 0 {
		t.Errorf("stats from the totals kept by the triggers %+v; from the rows %+v", fromSummary, fromRows)
	}
	if n := pgInt(t, url, "SELECT COUNT(*) FROM content_totals"); n != 1 {
		t.Errorf("content_totals holds %d rows after the last scan; want 1, every scan's folded", n)
	}

	// A fifth machine's scan of the first tree, killed part-way, then run
	// again to its end.
	killed := c.start("scan", "--quiet", "--machine", "pc4", roots[0])
	for pgCount(url, "pc4") < 1 && killed.running() {
		time.Sleep(time.Millisecond)
	}
	if !killed.running() {
		t.Skip("the scan ended before it could be killed; the tree is too small for this machine")
	}
	_ = killed.cmd.Process.Signal(syscall.SIGKILL)
	killed.wait()
	part := pgCount(url, "pc4")
	c.mustRun(0, "scan", "--quiet", "--machine", "pc4", roots[0])
	after := pgRows(t, url)
	if d := diff(after["pc4"], refs["pc0"]); d != "" {
		t.Errorf("after SIGKILL (%d of %d rows) and a rescan, machine pc4 differs from the reference: %s", part, len(refs["pc0"]), d)
	}
	for m, ref := range refs {
		if d := diff(after[m], ref); d != "" {
			t.Errorf("machine %s changed under another machine's killed scan: %s", m, d)
		}
	}
}

// statsTotals are the figures of stats --json that content_totals gives.
type statsTotals struct {
	Contents    int64 `json:"distinct_contents"`
	Groups      int64 `json:"duplicate_groups"`
	Files       int64 `json:"duplicate_files"`
	Reclaimable int64 `json:"reclaimable_bytes"`
}

func statsCounts(t testing.TB, stdout string) statsTotals {
	t.Helper()
	var s statsTotals
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatalf("stats --json: %v: %.300s", err, stdout)
	}
	return s
}

// pgInt returns the number q reads from a PostgreSQL catalog.
func pgInt(t testing.TB, url, q string) int {
	t.Helper()
	x, err := sqlx.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	var n int
	if err := x.Get(&n, q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// pgExec runs q on a PostgreSQL catalog.
func pgExec(t testing.TB, url, q string) {
	t.Helper()
	x, err := sqlx.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if _, err := x.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// TestPostgresHostileNames scans the hostile tree into a PostgreSQL
// catalog: every name (bytes that are not UTF-8, newlines, quotes, the
// longest) is stored and read back byte for byte, by the catalog itself and
// by find --json, as with SQLite.
func TestPostgresHostileNames(t *testing.T) {
	needRoot(t)
	h := buildHostile(t, tempDir(t))
	url := pgtest.URL(t)
	c := &catalog{t: t, path: url}
	s := c.scan(0, h.root)
	if s.Status != "complete" || s.Failed != 0 || s.Added != int64(len(h.files)) {
		t.Fatalf("scan of the hostile tree: status %s, %d added of %d, failures %v", s.Status, s.Added, len(h.files), s.Failures)
	}
	if d := diff(pgRows(t, url)[machine], h.files); d != "" {
		t.Errorf("the PostgreSQL catalog differs from the tree: %s", d)
	}
	if d := diff(findAll(t, c, h.root), h.files); d != "" {
		t.Errorf("find --json does not give back every name exactly: %s", d)
	}
	// A rescan finds every file unchanged: the names it reads back match
	// the tree's.
	if s := c.scan(0, h.root); s.Unchanged != int64(len(h.files)) || s.Added != 0 || s.Deleted != 0 {
		t.Errorf("rescan: %d unchanged, %d added, %d deleted; want %d unchanged", s.Unchanged, s.Added, s.Deleted, len(h.files))
	}
}
