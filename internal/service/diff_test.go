package service

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/dto"
)

// scanOK scans roots and fails the test unless the scan completes.
func scanOK(t testing.TB, c *Catalog, roots ...string) ScanReport {
	t.Helper()
	rep, err := c.Scan(context.Background(), roots, ScanOptions{Machine: "m"})
	if err != nil || rep.Status != dto.ScanComplete {
		t.Fatalf("scan: %v, status %s, failures %v", err, rep.Status, rep.Failures)
	}
	return rep
}

func paths(fs []dto.DiffFile) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Path)
	}
	return out
}

func TestDiffAddedModifiedDeletedMoved(t *testing.T) {
	ctx := context.Background()
	c := openTestCatalog(t)
	root := t.TempDir()
	p := func(rel string) string { return filepath.Join(root, rel) }
	writeFile(t, p("same.txt"), []byte("never changes"))
	writeFile(t, p("twice.txt"), []byte("version 1"))
	writeFile(t, p("gone.txt"), []byte("to be deleted"))
	writeFile(t, p("mover.txt"), []byte("moves to sub/"))
	writeFile(t, p("replaced.txt"), []byte("the first file of this name"))
	writeFile(t, p("transient-base.txt"), []byte("base"))
	for i := range 1000 {
		writeFile(t, p(fmt.Sprintf("album/%02d/%04d.jpg", i%10, i)), fmt.Appendf(nil, "photo %d", i))
	}
	first := scanOK(t, c, root)

	writeFile(t, p("twice.txt"), []byte("version 2, longer"))
	writeFile(t, p("transient.txt"), []byte("added, then deleted"))
	second := scanOK(t, c, root)

	writeFile(t, p("twice.txt"), []byte("version 3"))
	if err := os.Remove(p("gone.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(p("transient.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(p("sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(p("mover.txt"), p("sub/mover.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(p("album"), p("photos")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(p("replaced.txt")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, p("replaced.txt"), []byte("another file, same name"))
	writeFile(t, p("new.txt"), []byte("brand new"))
	third := scanOK(t, c, root)

	// From the first scan on: each file once, with its net change.
	d, err := c.Diff(ctx, DiffOptions{Machine: "m", Since: Bound{Scan: first.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if d.After != first.ID || d.UpTo != third.ID || d.LogStart != 0 {
		t.Errorf("interval (%d, %d] log start %d; want (%d, %d] and 0", d.After, d.UpTo, d.LogStart, first.ID, third.ID)
	}
	if got, want := paths(d.Added), []string{p("new.txt")}; !slices.Equal(got, want) {
		t.Errorf("added %q; want %q (transient.txt came and went)", got, want)
	}
	if got, want := paths(d.Deleted), []string{p("gone.txt")}; !slices.Equal(got, want) {
		t.Errorf("deleted %q; want %q", got, want)
	}
	sum := func(s string) string { return sha256Of([]byte(s)) }
	want := []dto.DiffModified{
		{Path: p("replaced.txt"), OldSize: 27, NewSize: 23, OldSHA256: sum("the first file of this name"), NewSHA256: sum("another file, same name"), ScanID: third.ID},
		{Path: p("twice.txt"), OldSize: 9, NewSize: 9, OldSHA256: sum("version 1"), NewSHA256: sum("version 3"), ScanID: third.ID},
	}
	if !slices.Equal(d.Modified, want) {
		t.Errorf("modified\n%+v\nwant\n%+v", d.Modified, want)
	}
	if len(d.Moved) != 1001 {
		t.Fatalf("%d moves; want 1001", len(d.Moved))
	}
	var single []dto.DiffMove
	for _, m := range d.Moved {
		if !m.InDirMove {
			single = append(single, m)
		}
	}
	if len(single) != 1 || single[0].From != p("mover.txt") || single[0].To != p("sub/mover.txt") {
		t.Errorf("moves outside a directory move: %+v; want mover.txt -> sub/mover.txt", single)
	}
	wantDirs := []dto.DirMove{{From: p("album"), To: p("photos"), Files: 1000, Bytes: d.Totals.MovedBytes - int64(len("moves to sub/"))}}
	if !slices.Equal(d.MovedDirs, wantDirs) {
		t.Errorf("directory moves %+v; want %+v", d.MovedDirs, wantDirs)
	}
	if tt := d.Totals; tt.Added != 1 || tt.Deleted != 1 || tt.Modified != 2 || tt.Moved != 1001 || tt.AddedBytes != 9 || tt.DeletedBytes != 13 {
		t.Errorf("totals %+v", tt)
	}

	// The default interval: since the complete scan before the last one.
	d, err = c.Diff(ctx, DiffOptions{Machine: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if d.After != second.ID {
		t.Errorf("default interval after scan %d; want %d", d.After, second.ID)
	}
	if len(d.Modified) != 2 || d.Modified[1].OldSHA256 != sum("version 2, longer") {
		t.Errorf("modified since the second scan %+v; want twice.txt from version 2", d.Modified)
	}
	if got, want := paths(d.Deleted), []string{p("gone.txt"), p("transient.txt")}; !slices.Equal(got, want) {
		t.Errorf("deleted since the second scan: %d files, added %d, moved %d; want %q", len(got), len(d.Added), len(d.Moved), want)
	}

	// Until the second scan, under the album only.
	d, err = c.Diff(ctx, DiffOptions{Machine: "m", Since: Bound{Scan: first.ID}, Until: Bound{Scan: second.ID}, Under: p("album")})
	if err != nil {
		t.Fatal(err)
	}
	if d.Totals != (dto.DiffTotals{}) {
		t.Errorf("album between the first and second scans: %+v; want no change", d.Totals)
	}

	// Another machine's changes are not this one's.
	d, err = c.Diff(ctx, DiffOptions{Machine: "other", Since: Bound{Scan: first.ID}})
	if err != nil || d.Totals != (dto.DiffTotals{}) {
		t.Errorf("diff of another machine: %+v, %v; want nothing", d.Totals, err)
	}
}

func TestHistoryPrune(t *testing.T) {
	ctx := context.Background()
	c := openTestCatalog(t)
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "a"), []byte("a"))
	first := scanOK(t, c, root)
	writeFile(t, filepath.Join(root, "b"), []byte("b"))
	second := scanOK(t, c, root)

	n, err := c.PruneHistory(ctx, second.Started) // drops the first scan's changes only
	if err != nil || n != 1 {
		t.Fatalf("PruneHistory = %d, %v; want 1 change dropped", n, err)
	}
	d, err := c.Diff(ctx, DiffOptions{Machine: "m", Since: Bound{Time: first.Started.Add(-time.Second)}})
	if err != nil {
		t.Fatal(err)
	}
	if d.LogStart != first.ID || !slices.Equal(paths(d.Added), []string{filepath.Join(root, "b")}) {
		t.Errorf("after the prune: log start %d, added %q; want %d and only b", d.LogStart, paths(d.Added), first.ID)
	}
}

// A first scan logs each file it adds from the file's new row, with the
// size and sha256 stored there, in chunks of many files.
func TestDiffFirstScanAddsEveryFile(t *testing.T) {
	ctx := context.Background()
	c := openTestCatalog(t)
	root := t.TempDir()
	want := map[string]string{} // path → content
	for i := range 450 {        // more than two chunks
		p := filepath.Join(root, fmt.Sprintf("d%d/f%03d.txt", i%3, i))
		want[p] = fmt.Sprintf("file %d", i)
		writeFile(t, p, []byte(want[p]))
	}
	first := scanOK(t, c, root)
	d, err := c.Diff(ctx, DiffOptions{Machine: "m", Until: Bound{Scan: first.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Added) != len(want) || len(d.Modified)+len(d.Deleted)+len(d.Moved) != 0 {
		t.Fatalf("diff of a first scan: %d added (want %d), %+v", len(d.Added), len(want), d.Totals)
	}
	for _, a := range d.Added {
		content, ok := want[a.Path]
		if !ok || a.Size != int64(len(content)) || a.SHA256 != fmt.Sprintf("%x", sha256.Sum256([]byte(content))) || a.ScanID != first.ID {
			t.Errorf("added %+v, want size %d scan %d", a, len(content), first.ID)
		}
	}
}
