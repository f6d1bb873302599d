package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteFailure makes the catalog's writes fail mid-scan: once through a
// file-size limit (RLIMIT_FSIZE, writes fail with EFBIG), once through a
// full file system (a small tmpfs, ENOSPC). The scan of a second tree must
// fail with one clear sentence and exit 1, leave the catalog consistent with
// every row of the first tree kept and only whole chunks of correct rows of
// the second, and a scan with room again must complete it.
func TestWriteFailure(t *testing.T) {
	b := bigTree(t)
	refB := reference(t, b.root, b.files)

	t.Run("file-size-limit", func(t *testing.T) {
		c := newCatalog(t)
		a := smallTree(t, 300, 4)
		c.scan(0, a.root)
		c.fsize = uint64(fileSize(t, c.path)) + 256<<10
		writeFails(t, c, a, b, refB, "file size limit", func() { c.fsize = 0 })
	})

	t.Run("full-disk", func(t *testing.T) {
		dir := tempDir(t)
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
			t.Skipf("cannot mount a tmpfs here (%v: %s); the file-size-limit case covers write failures", err, strings.TrimSpace(string(out)))
		}
		t.Cleanup(func() {
			if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
				t.Errorf("umount %s: %v: %s", dir, err, out)
			}
		})
		c := &catalog{t: t, path: filepath.Join(dir, "index.db")}
		a := smallTree(t, 300, 5)
		c.scan(0, a.root)
		writeFails(t, c, a, b, refB, "disk is full", func() {
			if out, err := exec.Command("mount", "-o", "remount,size=256m", dir).CombinedOutput(); err != nil {
				t.Fatalf("grow the tmpfs: %v: %s", err, out)
			}
		})
	})
}

// writeFails scans b into c (which holds a) expecting the writes to fail
// with a message naming cause, checks what is left, calls unblock to give the catalog room, and scans b
// again to completion.
func writeFails(t *testing.T, c *catalog, a, b *tree, refB entries, cause string, unblock func()) {
	t.Helper()
	refA := reference(t, a.root, a.files)
	r := c.run("scan", "--quiet", b.root)
	if r.code != 1 {
		t.Fatalf("want exit 1 when the catalog cannot be written, got %s", r)
	}
	msg := oneSentence(t, r)
	t.Log(msg)
	if !strings.Contains(msg, c.path) || !strings.Contains(msg, cause) {
		t.Errorf("the message should name the catalog and say %q: %q", cause, msg)
	}
	unblock()

	got := rows(t, c.path)
	if d := diff(got.within(a.root), refA); d != "" {
		t.Fatalf("the first tree's rows did not survive the failed scan: %s", d)
	}
	gotB := got.within(b.root)
	if d := subsetDiff(gotB, refB); d != "" {
		t.Fatalf("the failed scan left wrong rows: %s", d)
	}
	if len(gotB)%200 != 0 || len(gotB) == len(refB) {
		t.Fatalf("the failed scan left %d rows of the second tree: not whole chunks of 200, or all of them", len(gotB))
	}
	t.Logf("the failed scan committed %d of %d files", len(gotB), len(refB))
	c.health()
	c.scan(0, b.root)
	assertCatalog(t, c.path, refA.merge(refB))
}

func fileSize(t testing.TB, p string) int64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
