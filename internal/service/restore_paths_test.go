package service

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/indexer/indexer/internal/db"
)

// TestRestoreThroughSymlink restores a catalog named through a symlink: the
// file the link points to is replaced and the link stays; the lock is the
// file's, so a handle on the file's own name keeps the restore out; the
// safety backup goes beside the file, named after it.
func TestRestoreThroughSymlink(t *testing.T) {
	ctx := context.Background()
	fx := restoreTestSetup(t)
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(data, "catalog.db")
	restoreTestWrite(t, real, fx.fileB)
	link := filepath.Join(dir, "index.db")
	if err := os.Symlink("data/catalog.db", link); err != nil {
		t.Fatal(err)
	}

	held, err := db.Open(ctx, real, db.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	plan, err := PlanRestore(ctx, link, fx.backup, db.DefaultOptions(), RestoreOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Catalog != real {
		t.Errorf("plan.Catalog = %s; want the file the link points to, %s", plan.Catalog, real)
	}
	if _, err := plan.Run(ctx); !errors.Is(err, db.ErrInUse) {
		t.Errorf("restore through %s while %s is open = %v; want db.ErrInUse", link, real, err)
	}
	if err := held.Close(); err != nil {
		t.Fatal(err)
	}

	res, err := plan.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(link); err != nil || target != "data/catalog.db" {
		t.Errorf("the link is now %q, %v; want it left pointing at data/catalog.db", target, err)
	}
	if got := restoreTestRows(t, real); !slices.Equal(got, fx.rowsA) {
		t.Errorf("the file behind the link holds %d rows, want the backup's %d", len(got), len(fx.rowsA))
	}
	if res.Catalog != real || filepath.Dir(res.SafetyBackup) != filepath.Join(data, "backups") ||
		!strings.HasPrefix(filepath.Base(res.SafetyBackup), "catalog-") {
		t.Errorf("restored %s, safety backup %s; want %s and data/backups/catalog-<time>-pre-restore.db", res.Catalog, res.SafetyBackup, real)
	}
	for _, p := range []string{link + ".lock", filepath.Join(dir, "backups")} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s was made beside the link", p)
		}
	}
}

// TestRestoreRefusesNonRegularCatalog points the catalog path at a FIFO, at
// a character device (with a copy of /dev/null's numbers) and at a link to
// one: PlanRestore refuses, naming what is there, and nothing is created or
// changed, the node included.
func TestRestoreRefusesNonRegularCatalog(t *testing.T) {
	ctx := context.Background()
	fx := restoreTestSetup(t)
	cases := []struct {
		name, kind string
		make       func(t *testing.T, p string)
	}{
		{"FIFO", "a FIFO", func(t *testing.T, p string) {
			if err := unix.Mkfifo(p, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"character device", "a character device", func(t *testing.T, p string) {
			if err := unix.Mknod(p, unix.S_IFCHR|0o644, int(unix.Mkdev(1, 3))); err != nil {
				t.Skipf("cannot make a device here (%v); the FIFO covers the rule", err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			node := filepath.Join(dir, "index.db")
			tc.make(t, node)
			link := filepath.Join(dir, "link.db")
			if err := os.Symlink(node, link); err != nil {
				t.Fatal(err)
			}
			before := dirNamesOf(t, dir)
			fi, err := os.Lstat(node)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{node, link} {
				_, err := PlanRestore(ctx, p, fx.backup, db.DefaultOptions(), RestoreOptions{Force: true}, nil)
				if err == nil || !strings.Contains(err.Error(), tc.kind+", not a regular file") {
					t.Errorf("PlanRestore over %s = %v; want it refused as %s, not a regular file", p, err, tc.kind)
				}
			}
			if after := dirNamesOf(t, dir); !slices.Equal(after, before) {
				t.Errorf("the directory changed: before %v, after %v", before, after)
			}
			if fi2, err := os.Lstat(node); err != nil || fi2.Mode() != fi.Mode() {
				t.Errorf("%s is now %v (%v), was %v", node, fi2.Mode(), err, fi.Mode())
			}
		})
	}
}

// TestBackupRefusesCatalogFiles asks Backup, with force, to write over each
// of the catalog's own files while it is open (the file, its -wal, -shm and
// lock file, which exist, and its -journal, which does not), over a hard link
// to its -wal under another name, and over a FIFO. Each is refused, and left
// as it was: same inode, same bytes, or still absent.
func TestBackupRefusesCatalogFiles(t *testing.T) {
	ctx := context.Background()
	c := backupTestOpen(t)
	backupTestWrite(t, c.UoW(), "/a", "A", 10)
	cat := c.DB().Path()
	other := t.TempDir()
	walLink := filepath.Join(other, "wal-by-another-name.db")
	if err := os.Link(cat+"-wal", walLink); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(other, "pipe.db")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}

	for _, dst := range []string{cat, cat + "-wal", cat + "-shm", cat + ".lock", cat + "-journal", walLink, fifo} {
		before := fileIdentity(t, dst)
		_, err := c.Backup(ctx, dst, true)
		switch {
		case err == nil:
			t.Errorf("Backup over %s succeeded", dst)
		case dst == fifo && !strings.Contains(err.Error(), "a FIFO, not a regular file"):
			t.Errorf("Backup over a FIFO = %v; want it refused as not a regular file", err)
		case dst != fifo && !strings.Contains(err.Error(), "the catalog's own file"):
			t.Errorf("Backup over %s = %v; want it refused as the catalog's own file", dst, err)
		}
		if after := fileIdentity(t, dst); after != before {
			t.Errorf("%s changed: was %s, now %s", dst, before, after)
		}
	}
	if left := backupTestLeftovers(t, filepath.Dir(cat)); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// fileIdentity describes what lies at p: its type, inode and content, or
// that nothing does. The content of a FIFO is not read.
func fileIdentity(t *testing.T, p string) string {
	t.Helper()
	fi, err := os.Lstat(p)
	if errors.Is(err, os.ErrNotExist) {
		return "absent"
	}
	if err != nil {
		t.Fatal(err)
	}
	id := fi.Mode().String() + " inode " + strconv.FormatUint(fi.Sys().(*syscall.Stat_t).Ino, 10)
	if fi.Mode().IsRegular() {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		b, err := io.ReadAll(f)
		if err != nil {
			t.Fatal(err)
		}
		id += fmt.Sprintf(" sha256 %x", sha256.Sum256(b))
	}
	return id
}

// TestListBackupsExactNames keeps the backups of index.db and index-old.db,
// which share a directory, apart: each lists only names made of its own
// catalog name, a UTC time, an optional -N, an optional suffix and ".db".
func TestListBackupsExactNames(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var cats []*Catalog
	for _, name := range []string{"index.db", "index-old.db"} {
		c, err := Open(ctx, filepath.Join(dir, name), db.DefaultOptions(), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		backupTestWrite(t, c.UoW(), "/"+name, name, 3)
		cats = append(cats, c)
	}
	idx, old := cats[0], cats[1]
	bIdx, err := idx.Backup(ctx, "", false)
	if err != nil {
		t.Fatal(err)
	}
	bOld, err := old.Backup(ctx, "", false)
	if err != nil {
		t.Fatal(err)
	}
	backups := BackupDir(idx.DB().Path())
	// Names a restore gives index.db's copies, and names that only start
	// like them.
	for _, name := range []string{"index-20200101T000000Z-2-pre-restore.db", "index-20200101T000000Z-damaged.db",
		"index-notes.db", "index-20200101T000000Z.db.tmp", "index-20200101T000000Z-mine.db", "index-2020.db"} {
		if err := copyFile(bIdx.Path, filepath.Join(backups, name), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	for _, tc := range []struct {
		c    *Catalog
		want []string
	}{
		{idx, []string{"index-20200101T000000Z-2-pre-restore.db", "index-20200101T000000Z-damaged.db", filepath.Base(bIdx.Path)}},
		{old, []string{filepath.Base(bOld.Path)}},
	} {
		list, err := ListBackups(ctx, tc.c.DB().Path())
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, b := range list {
			got = append(got, filepath.Base(b.Path))
		}
		slices.Sort(got)
		slices.Sort(tc.want)
		if !slices.Equal(got, tc.want) {
			t.Errorf("ListBackups(%s) = %v; want %v", tc.c.DB().Path(), got, tc.want)
		}
	}
}
