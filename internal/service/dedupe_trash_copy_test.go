package service

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/dto"
)

// TestDedupeTrashAcrossFileSystems: with a trash directory on another file
// system (a tmpfs), a victim is copied there, synced, compared and only
// then unlinked, with its manifest line; a victim changed after the plan
// is neither copied nor removed; a hard-link set is not split; undo copies
// the file back and refuses to overwrite.
func TestDedupeTrashAcrossFileSystems(t *testing.T) {
	f := newDedupeFixture(t, "keep.bin", "a/v1.bin", "b/v2.bin", "c/v3.bin")
	trash := filepath.Join(otherFileSystem(t, f.root), "trash")
	// v3 gets a second name: a hard-link set cannot cross whole.
	if err := os.Link(f.path("c/v3.bin"), f.path("c/v3-link.bin")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(racyWindow + 20*time.Millisecond)
	f.scan(t)
	p := f.plan(t, ActionTrash, "oldest")

	// Fault: v2 is rewritten after the plan (same size, mtime restored).
	st, err := os.Stat(f.path("b/v2.bin"))
	if err != nil {
		t.Fatal(err)
	}
	changed := slices.Clone(f.data)
	changed[10] ^= 0xff
	writeFile(t, f.path("b/v2.bin"), changed)
	if err := os.Chtimes(f.path("b/v2.bin"), st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}

	dry := f.apply(t, p, ApplyOptions{Trash: trash, DryRun: true})
	rep := f.apply(t, p, ApplyOptions{Trash: trash})
	if rep.Applied != 1 || dry.Applied != 1 || rep.Manifest == "" {
		t.Fatalf("report = %+v (dry run %+v); want v1 trashed and a manifest", rep, dry)
	}
	wantSkipped := []string{f.path("b/v2.bin"), f.path("c/v3-link.bin"), f.path("c/v3.bin")}
	if !slices.Equal(skippedPaths(rep), wantSkipped) {
		t.Fatalf("skipped %v; want %v", skippedPaths(rep), wantSkipped)
	}
	if !strings.HasPrefix(rep.Manifest, trash) {
		t.Errorf("manifest %s is not in the trash %s", rep.Manifest, trash)
	}
	if _, err := os.Lstat(f.path("a/v1.bin")); !os.IsNotExist(err) {
		t.Errorf("v1 is still there: %v", err)
	}
	if got := mustRead(t, f.path("b/v2.bin")); !bytes.Equal(got, changed) {
		t.Error("v2, changed after the plan, lost its content")
	}
	if inodeOf(t, f.path("c/v3.bin")) != inodeOf(t, f.path("c/v3-link.bin")) {
		t.Error("v3's hard-link set was split")
	}
	entries, _ := filepath.Glob(filepath.Join(filepath.Dir(rep.Manifest), "*"))
	var copies []string
	for _, e := range entries {
		if filepath.Base(e) != "manifest.jsonl" {
			copies = append(copies, e)
		}
	}
	if len(copies) != 1 || !bytes.Equal(mustRead(t, copies[0]), f.data) || strings.Contains(copies[0], "partial") {
		t.Fatalf("the trash holds %v; want one full copy of v1", copies)
	}
	if row := catalogRow(t, f.c, f.path("a/v1.bin")); row.Operation != dto.OpDel {
		t.Errorf("catalog row of v1 is %s; want DEL", row.Operation)
	}

	// Undo with something at the old path: refused, nothing overwritten.
	writeFile(t, f.path("a/v1.bin"), []byte("newcomer"))
	u, err := f.c.Undo(context.Background(), rep.Manifest, UndoOptions{Machine: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if u.Restored != 0 || string(mustRead(t, f.path("a/v1.bin"))) != "newcomer" {
		t.Fatalf("undo = %+v over a newcomer; want it refused", u)
	}
	if err := os.Remove(f.path("a/v1.bin")); err != nil {
		t.Fatal(err)
	}
	u, err = f.c.Undo(context.Background(), rep.Manifest, UndoOptions{Machine: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if u.Restored != 1 || !bytes.Equal(mustRead(t, f.path("a/v1.bin")), f.data) {
		t.Fatalf("undo = %+v; want v1 copied back", u)
	}
	if _, err := os.Lstat(copies[0]); !os.IsNotExist(err) {
		t.Errorf("the trash copy is still there after undo: %v", err)
	}
	if row := catalogRow(t, f.c, f.path("a/v1.bin")); row.Operation == dto.OpDel {
		t.Error("catalog still has the restored v1 as DEL")
	}
	left, _ := filepath.Glob(filepath.Join(f.path("a"), ".indexer-dedupe-*"))
	if len(left) != 0 {
		t.Errorf("undo left temporary files %v", left)
	}
}
