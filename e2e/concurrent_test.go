package e2e

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// dupesJSON is `dupes --json` (issue 4).
type dupesJSON struct {
	Groups []struct {
		SHA256      string `json:"sha256"`
		Size        int64  `json:"size"`
		Count       int    `json:"count"`
		Copies      int    `json:"copies"` // distinct inodes
		Reclaimable int64  `json:"reclaimable"`
		Files       []struct {
			Machine string `json:"machine"`
			Path    string `json:"path"`
			Linked  bool   `json:"linked"` // a hard link of another file of the group
		} `json:"files"`
	} `json:"groups"`
	GroupsTotal      int   `json:"groups_total"`
	FilesTotal       int   `json:"files_total"`
	ReclaimableTotal int64 `json:"reclaimable_total"`
}

// busyWords are what a user must never see: a lock conflict between indexer
// processes is the indexer's to wait out.
var busyWords = []string{"database is locked", "SQLITE_BUSY", "locked by another program"}

// TestConcurrentScansAndQueries runs two scans of different roots into one
// catalog at the same time, while a third process queries it in a loop
// (dupes, find, stats, health). Every process exits 0, no "database is
// locked" reaches any stderr, every query answer is consistent with the
// reference (no half-written state shows), and the final catalog is exact.
func TestConcurrentScansAndQueries(t *testing.T) {
	tr := bigTree(t)
	ref := reference(t, tr.root, tr.files)
	// The catalog does not exist yet: both scans race to create it.
	c := newCatalog(t)

	queries := [][]string{{"--json", "health"}, {"--json", "dupes"}, {"--json", "find", "--under", tr.root}, {"--json", "stats"}}

	a := c.start("scan", "--quiet", filepath.Join(tr.root, "a"))
	b := c.start("scan", "--quiet", filepath.Join(tr.root, "b"))
	var wg sync.WaitGroup
	var readerErr error
	rounds := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		// The queries need the catalog (they never create one).
		for countRows(c.path) < 0 && (a.running() || b.running()) {
			time.Sleep(5 * time.Millisecond)
		}
		// Bounded: until both scans end, and at most 200 rounds.
		for ; rounds < 200 && (a.running() || b.running()); rounds++ {
			for _, q := range queries {
				r := execute(t, c.command(q...))
				if err := checkQuery(r, ref); err != nil {
					readerErr = err
					return
				}
			}
		}
	}()
	ra, rb := a.wait(), b.wait()
	wg.Wait()
	for _, r := range []result{ra, rb} {
		if r.code != 0 {
			t.Errorf("concurrent scan: %s", r)
		}
		noPanic(t, r)
		for _, w := range busyWords {
			if strings.Contains(r.stderr, w) {
				t.Errorf("a scan told its user %q: %s", w, r)
			}
		}
	}
	if readerErr != nil {
		t.Fatalf("querying while two scans run: %v", readerErr)
	}
	t.Logf("%d rounds of %d queries ran during the scans", rounds, len(queries))
	if rounds == 0 {
		t.Fatal("no query ran while the scans did")
	}
	if t.Failed() {
		return
	}
	assertCatalog(t, c.path, ref)
	c.health()
}

// checkQuery checks one query's outcome taken while scans run: exit 0, no
// busy error, and an answer that agrees with the reference.
func checkQuery(r result, ref entries) error {
	if r.code != 0 {
		return fmt.Errorf("%s", r)
	}
	for _, w := range busyWords {
		if strings.Contains(r.stderr, w) {
			return fmt.Errorf("the user saw %q: %s", w, r)
		}
	}
	switch r.args[3] { // --db PATH --json CMD
	case "find":
		var es []findEntry
		if err := json.Unmarshal([]byte(r.stdout), &es); err != nil {
			return fmt.Errorf("find --json: %v", err)
		}
		for _, e := range es {
			if want, ok := ref[e.Path]; !ok || want != e.SHA256 {
				return fmt.Errorf("find listed %q with sha256 %s; the reference has %q", e.Path, e.SHA256, want)
			}
		}
	case "dupes":
		var d dupesJSON
		if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
			return fmt.Errorf("dupes --json: %v", err)
		}
		for _, g := range d.Groups {
			if len(g.Files) < 2 {
				return fmt.Errorf("dupes group %s has %d files", g.SHA256, len(g.Files))
			}
			for _, f := range g.Files {
				if ref[f.Path] != g.SHA256 {
					return fmt.Errorf("dupes put %q in group %s; its content is %s", f.Path, g.SHA256, ref[f.Path])
				}
			}
		}
	default:
		if !json.Valid([]byte(r.stdout)) {
			return fmt.Errorf("%s printed invalid JSON: %.500s", r.args[3], r.stdout)
		}
	}
	return nil
}

// hasCommand reports whether the indexer has the subcommand name.
func hasCommand(t testing.TB, name string) bool {
	t.Helper()
	r := execute(t, exec.Command(bin, name, "--help"))
	return r.code == 0 && !strings.Contains(r.stderr, "unknown command")
}
