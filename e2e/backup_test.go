package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// backupJSON is `backup --json`.
type backupJSON struct {
	Path      string `json:"path"`
	Files     int64  `json:"files"`
	Deleted   int64  `json:"deleted"`
	Hashes    int64  `json:"hashes"`
	Integrity string `json:"integrity"`
}

// backup runs `backup --json dest` on c and returns what it reports.
func (c *catalog) backup(dest string) backupJSON {
	c.t.Helper()
	r := c.mustRun(0, "--json", "backup", dest)
	var b backupJSON
	if err := json.Unmarshal([]byte(r.stdout), &b); err != nil {
		c.t.Fatalf("backup --json: %v\n%s", err, r.stdout)
	}
	return b
}

// TestBackupDuringScan takes a backup while a scan commits into the catalog.
// The backup must be a consistent snapshot: integrity ok, only whole chunks
// of correct rows, counts equal to what it reports; restored into a new
// catalog it holds exactly those rows, and a scan completes it to the
// reference. The scan itself must be undisturbed.
func TestBackupDuringScan(t *testing.T) {
	tr := bigTree(t)
	ref := reference(t, tr.root, tr.files)
	c := newCatalog(t)
	b := c.start("scan", "--quiet", tr.root)
	if waitRows(t, c.path, 400, b.done) < 0 {
		t.Fatalf("the scan ended before the backup: %s", b.wait())
	}
	dest := filepath.Join(tempDir(t), "snapshot.db")
	rep := c.backup(dest)
	if b.running() {
		t.Log("the backup finished while the scan was still running")
	}
	if r := b.wait(); r.code != 0 {
		t.Fatalf("the scan under the backup: %s", r)
	}
	assertCatalog(t, c.path, ref)

	v := readCatalog(t, dest)
	snap := v.present()
	if d := subsetDiff(snap, ref); d != "" {
		t.Fatalf("the backup holds wrong rows: %s", d)
	}
	if len(snap) == 0 || len(snap) == len(ref) || len(snap)%200 != 0 {
		t.Fatalf("a backup taken mid-scan holds %d of %d rows: want whole chunks of 200, not none or all", len(snap), len(ref))
	}
	if rep.Files != int64(len(snap)) || rep.Hashes != int64(v.Hashes) || rep.Integrity != "ok" {
		t.Fatalf("backup reported %+v; the file holds %d files and %d hashes", rep, len(snap), v.Hashes)
	}
	if fileExists(dest + "-wal") {
		t.Errorf("the backup needs a -wal file beside it")
	}

	restored := newCatalog(t)
	restored.mustRun(0, "restore", "--yes", dest)
	restored.health()
	assertCatalog(t, restored.path, snap)
	s := restored.scan(0, tr.root)
	if s.Added != int64(len(ref)-len(snap)) || s.Unchanged != int64(len(snap)) {
		t.Errorf("the scan after the restore added %d and found %d unchanged, want %d and %d", s.Added, s.Unchanged, len(ref)-len(snap), len(snap))
	}
	assertCatalog(t, restored.path, ref)
}

// TestRestoreDuringScan restores a backup of another tree into a catalog
// while a scan runs on it. Without --wait the restore is refused with one
// clear sentence and exit 1 and changes nothing: once the scan ends the
// catalog is exactly the scan's reference, and no safety backup was made.
// With --wait it waits for the scan and then restores: the catalog is the
// backup's, and the safety backup holds the scan's result.
func TestRestoreDuringScan(t *testing.T) {
	tr := bigTree(t)
	ref := reference(t, tr.root, tr.files)
	other := smallTree(t, 50, 9)
	o := newCatalog(t)
	o.scan(0, other.root)
	snapPath := filepath.Join(tempDir(t), "other.db")
	o.backup(snapPath)
	snapState := fileState(t, snapPath)
	otherRows := rows(t, snapPath)

	t.Run("refused", func(t *testing.T) {
		c := newCatalog(t)
		b := c.start("scan", "--quiet", tr.root)
		if waitRows(t, c.path, 400, b.done) < 0 {
			t.Fatalf("the scan ended before the restore: %s", b.wait())
		}
		r := c.run("restore", "--yes", snapPath)
		if !b.running() {
			t.Fatalf("the scan ended before the restore did: the tree is too small to tell (%s)", r)
		}
		if r.code != 1 {
			t.Fatalf("want exit 1 for a restore under a running scan, got %s", r)
		}
		msg := oneSentence(t, r)
		if !strings.Contains(msg, c.path) || !strings.Contains(msg, "in use by another indexer process") {
			t.Errorf("the message should name the catalog and say another indexer process uses it: %q", msg)
		}
		if r := b.wait(); r.code != 0 {
			t.Fatalf("the scan under the refused restore: %s", r)
		}
		assertCatalog(t, c.path, ref)
		if backups, _ := filepath.Glob(filepath.Join(filepath.Dir(c.path), "backups", "*")); len(backups) != 0 {
			t.Errorf("a refused restore left backups: %q", backups)
		}
		if got := fileState(t, snapPath); got != snapState {
			t.Errorf("the restore changed its source: %s, was %s", got, snapState)
		}
	})

	// A scan through a symlink to the catalog holds the same lock as one
	// through its own name: a restore through the other name is refused,
	// and one through the link replaces the file, not the link.
	t.Run("through another name", func(t *testing.T) {
		c := newCatalog(t)
		link := &catalog{t: t, path: filepath.Join(filepath.Dir(c.path), "link.db")}
		if err := os.Symlink("index.db", link.path); err != nil {
			t.Fatal(err)
		}
		b := link.start("scan", "--quiet", tr.root)
		if waitRows(t, c.path, 400, b.done) < 0 {
			t.Fatalf("the scan ended before the restore: %s", b.wait())
		}
		r := c.run("restore", "--yes", snapPath)
		if !b.running() {
			t.Fatalf("the scan ended before the restore did: the tree is too small to tell (%s)", r)
		}
		if r.code != 1 {
			t.Fatalf("want exit 1 for a restore under a scan through another name, got %s", r)
		}
		if msg := oneSentence(t, r); !strings.Contains(msg, "in use by another indexer process") {
			t.Errorf("the message should say another indexer process uses the catalog: %q", msg)
		}
		if r := b.wait(); r.code != 0 {
			t.Fatalf("the scan under the refused restore: %s", r)
		}
		assertCatalog(t, c.path, ref)

		link.mustRun(0, "restore", "--yes", snapPath)
		if target, err := os.Readlink(link.path); err != nil || target != "index.db" {
			t.Errorf("the link is now %q, %v; want it left pointing at index.db", target, err)
		}
		assertCatalog(t, c.path, otherRows)
		if _, err := os.Lstat(link.path + ".lock"); err == nil {
			t.Error("a lock file was made for the link's name")
		}
	})

	t.Run("wait", func(t *testing.T) {
		c := newCatalog(t)
		b := c.start("scan", "--quiet", tr.root)
		if waitRows(t, c.path, 400, b.done) < 0 {
			t.Fatalf("the scan ended before the restore: %s", b.wait())
		}
		rs := c.start("--json", "restore", "--yes", "--wait", snapPath)
		if r := b.wait(); r.code != 0 {
			t.Fatalf("the scan under the waiting restore: %s", r)
		}
		r := rs.wait()
		if r.code != 0 {
			t.Fatalf("restore --wait: %s", r)
		}
		var out struct {
			SafetyBackup string `json:"safety_backup"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.SafetyBackup == "" {
			t.Fatalf("restore --json named no safety backup (%v): %s", err, r.stdout)
		}
		assertCatalog(t, c.path, otherRows)
		c.health()
		// The safety backup was taken once the scan had finished: all of it.
		assertCatalog(t, out.SafetyBackup, ref)
		if got := fileState(t, snapPath); got != snapState {
			t.Errorf("the restore changed its source: %s, was %s", got, snapState)
		}
	})
}
