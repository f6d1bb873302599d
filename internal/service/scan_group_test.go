package service

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/indexer/indexer/internal/dto"
)

// TestRescanHoldsOneDirectory: a rescan reads the catalog one directory at
// a time, so the rows it holds at once are those of one directory, not of
// the tree; and it still turns into DEL what is gone, whole directories
// included, and keeps what it did not look at.
func TestRescanHoldsOneDirectory(t *testing.T) {
	root := t.TempDir()
	const dirs, perDir = 8, 25
	for d := range dirs {
		for f := range perDir {
			// Names that sort around the directories' own: "d3.txt",
			// "d3-x" and "d3/…" interleave in the catalog's path order.
			writeFile(t, filepath.Join(root, fmt.Sprintf("d%d", d), "sub", fmt.Sprintf("f%02d", f)), []byte(fmt.Sprintf("%d/%d", d, f)))
		}
		writeFile(t, filepath.Join(root, fmt.Sprintf("d%d.txt", d)), []byte("top"))
		writeFile(t, filepath.Join(root, fmt.Sprintf("d%d-x", d)), []byte("top-x"))
	}
	c := openTestCatalog(t)
	mustScan(t, c, []string{root}, ScanOptions{})
	outOfRacyWindow()

	most := 0
	testHookGroup = func(_ string, rows int) { most = max(most, rows) }
	t.Cleanup(func() { testHookGroup = nil })
	rep := mustScan(t, c, []string{root}, ScanOptions{})
	if want := int64(dirs*perDir + 2*dirs); rep.Counts.Unchanged != want || rep.Counts.Deleted != 0 {
		t.Fatalf("unchanged rescan: %+v; want %d unchanged, none deleted", rep.Counts, want)
	}
	// The largest directory holds perDir files; the tree holds 216.
	if most == 0 || most > perDir {
		t.Errorf("the rescan held %d rows at once; want at most %d, the largest directory's", most, perDir)
	}

	// A directory gone with all below it, one file gone, one directory
	// excluded: DEL for all three, the excluded one counted apart.
	if err := os.RemoveAll(filepath.Join(root, "d1")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(root, "d2", "sub", "f03")); err != nil {
		t.Fatal(err)
	}
	rep = mustScan(t, c, []string{root}, ScanOptions{Exclude: []string{"d3/"}})
	if rep.Counts.Deleted != perDir+1 || rep.ExcludedGone != perDir {
		t.Errorf("deleted %d, excluded marked gone %d; want %d and %d", rep.Counts.Deleted, rep.ExcludedGone, perDir+1, perDir)
	}
	rows := dumpFiles(t, c)
	for path, want := range map[string]dto.Operation{
		filepath.Join(root, "d1", "sub", "f00"): dto.OpDel,
		filepath.Join(root, "d1", "sub", "f24"): dto.OpDel,
		filepath.Join(root, "d2", "sub", "f03"): dto.OpDel,
		filepath.Join(root, "d2", "sub", "f04"): dto.OpAdd,
		filepath.Join(root, "d3", "sub", "f00"): dto.OpDel,
		filepath.Join(root, "d1.txt"):           dto.OpAdd,
		filepath.Join(root, "d1-x"):             dto.OpAdd,
	} {
		if got := rows[path].Op; got != string(want) {
			t.Errorf("%s: %s; want %s", path, got, want)
		}
	}

	// Once more, with the DEL rows of d1 left in the catalog: nothing new.
	rep = mustScan(t, c, []string{root}, ScanOptions{Exclude: []string{"d3/"}})
	if rep.Counts.Deleted != 0 || rep.ExcludedGone != 0 {
		t.Errorf("second rescan deleted %d, marked %d excluded rows gone; want 0 and 0", rep.Counts.Deleted, rep.ExcludedGone)
	}
}
