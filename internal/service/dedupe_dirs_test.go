package service

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/dto"
)

// actedPaths returns the paths a plan acts on, sorted.
func actedPaths(p dto.DedupePlan) []string {
	var out []string
	for _, g := range p.Groups {
		for _, cp := range g.Act {
			for _, n := range cp.Names {
				out = append(out, n.Path)
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestDedupePlanDirs: a plan from duplicate directories keeps one directory
// (oldest), acts on each file of the others against its counterpart, and
// apply checks every file as usual: one rewritten after the plan is
// skipped. With --content, a directory holding the same files in another
// layout is acted on too.
func TestDedupePlanDirs(t *testing.T) {
	root := t.TempDir()
	c := openTestCatalog(t)
	a, b := randomBytes(1, 3000), randomBytes(2, 5000)
	files := map[string][]byte{
		"old/a.txt": a, "old/sub/b.txt": b,
		"new/a.txt": a, "new/sub/b.txt": b,
		"layout/x.txt": a, "layout/y/z.txt": b,
	}
	base := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for rel, data := range files {
		p := filepath.Join(root, rel)
		writeFile(t, p, data)
		mt := base
		if !strings.HasPrefix(rel, "old/") {
			mt = base.Add(time.Hour)
		}
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(racyWindow + 20*time.Millisecond)
	if _, err := c.Scan(context.Background(), []string{root}, ScanOptions{Machine: "m"}); err != nil {
		t.Fatal(err)
	}
	plan := func(content bool) dto.DedupePlan {
		p, err := c.Plan(context.Background(), DedupePlanOptions{Dupes: DupesOptions{Machine: "m", MinSize: 1, Under: []string{root}},
			Action: ActionHardlink, Keep: []string{"oldest"}, Dirs: true, Content: content})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := plan(false)
	at := func(rels ...string) []string {
		var out []string
		for _, r := range rels {
			out = append(out, filepath.Join(root, r))
		}
		slices.Sort(out)
		return out
	}
	if got, want := actedPaths(p), at("new/a.txt", "new/sub/b.txt"); !slices.Equal(got, want) {
		t.Fatalf("the tree plan acts on %v; want %v", got, want)
	}
	for _, g := range p.Groups {
		if kept := g.Keep.Names[0].Path; !strings.HasPrefix(kept, filepath.Join(root, "old")+"/") || !strings.Contains(g.Act[0].Rule, "directory "+filepath.Join(root, "old")) {
			t.Errorf("group %s keeps %s (%s); want the old directory's file", g.Act[0].Names[0].Path, kept, g.Act[0].Rule)
		}
	}
	if pc := plan(true); !slices.Equal(actedPaths(pc), at("layout/x.txt", "layout/y/z.txt", "new/a.txt", "new/sub/b.txt")) {
		t.Fatalf("the content plan acts on %v; want the new and layout directories' files", actedPaths(pc))
	}

	// Fault: new/sub/b.txt is rewritten, same size and mtime, after the plan.
	victim := filepath.Join(root, "new/sub/b.txt")
	changed := slices.Clone(b)
	changed[0] ^= 1
	writeFile(t, victim, changed)
	mt := base.Add(time.Hour)
	if err := os.Chtimes(victim, mt, mt); err != nil {
		t.Fatal(err)
	}
	rep, err := c.Apply(context.Background(), &p, ApplyOptions{Machine: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Applied != 1 || !slices.Equal(skippedPaths(rep), []string{victim}) {
		t.Fatalf("report = %+v; want new/a.txt linked and new/sub/b.txt skipped", rep)
	}
	if inodeOf(t, filepath.Join(root, "new/a.txt")) != inodeOf(t, filepath.Join(root, "old/a.txt")) {
		t.Error("new/a.txt is not a link of old/a.txt")
	}
	if got := mustRead(t, victim); !slices.Equal(got, changed) {
		t.Error("the file rewritten after the plan lost its new content")
	}

	for _, bad := range []DedupePlanOptions{
		{Dupes: DupesOptions{Machine: "m", Name: "*.txt"}, Action: ActionTrash, Dirs: true},
		{Dupes: DupesOptions{Machine: "m", Under: []string{root, "/x"}}, Action: ActionTrash, Dirs: true},
		{Dupes: DupesOptions{Machine: "m"}, Action: ActionTrash, Content: true},
	} {
		var bq *BadQueryError
		if _, err := c.Plan(context.Background(), bad); !errors.As(err, &bq) {
			t.Errorf("plan %+v: %v; want a bad query", bad, err)
		}
	}
}
