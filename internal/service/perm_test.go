package service

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
)

// clearUmask sets the process umask to 0 for the test, so that a mode the
// code asks for is the mode the file gets (a umask of 077 would make a file
// created 0644 look private). Tests calling it must not run in parallel.
func clearUmask(t *testing.T) {
	t.Helper()
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })
}

func wantMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s has mode %04o, want %04o", path, got, want)
	}
}

// TestBackupModes: a new catalog's backups and their directory are private;
// a backup of a catalog someone shared copies the catalog's mode.
func TestBackupModes(t *testing.T) {
	clearUmask(t)
	ctx := context.Background()
	c := backupTestOpen(t)
	backupTestWrite(t, c.UoW(), "/a", "A", 10)

	b, err := c.Backup(ctx, "", false)
	if err != nil {
		t.Fatal(err)
	}
	wantMode(t, BackupDir(c.DB().Path()), 0o700)
	wantMode(t, b.Path, 0o600)

	if err := os.Chmod(c.DB().Path(), 0o640); err != nil {
		t.Fatal(err)
	}
	for _, dst := range []string{"", t.TempDir(), filepath.Join(t.TempDir(), "named.db")} {
		b, err := c.Backup(ctx, dst, false)
		if err != nil {
			t.Fatal(err)
		}
		wantMode(t, b.Path, 0o640)
	}
}

// TestRestoreModes: a restore that creates the catalog creates it and its
// directory private; one over a damaged catalog keeps the catalog's mode, for
// the restored file and for the raw copy of the damaged one.
func TestRestoreModes(t *testing.T) {
	clearUmask(t)
	ctx := context.Background()
	c := backupTestOpen(t)
	backupTestWrite(t, c.UoW(), "/a", "A", 10)
	b, err := c.Backup(ctx, "", false)
	if err != nil {
		t.Fatal(err)
	}

	root := t.TempDir()
	missing := filepath.Join(root, "new", "index.db")
	p, err := PlanRestore(ctx, missing, b.Path, db.DefaultOptions(), RestoreOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Run(ctx)
	if err != nil || !res.Created {
		t.Fatalf("restore to a missing catalog: %+v, %v; want it created", res, err)
	}
	wantMode(t, filepath.Dir(missing), 0o700)
	wantMode(t, missing, 0o600)
	wantMode(t, missing+".lock", 0o600)

	damaged := filepath.Join(root, "damaged", "index.db")
	if err := os.Mkdir(filepath.Dir(damaged), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(damaged, []byte(strings.Repeat("not a database ", 500)), 0o640); err != nil {
		t.Fatal(err)
	}
	p, err = PlanRestore(ctx, damaged, b.Path, db.DefaultOptions(), RestoreOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err = p.Run(ctx)
	if err != nil || !res.Damaged || res.SafetyBackup == "" {
		t.Fatalf("restore over a damaged catalog: %+v, %v; want a raw copy kept", res, err)
	}
	wantMode(t, damaged, 0o640)
	wantMode(t, res.SafetyBackup, 0o640)
	wantMode(t, BackupDir(damaged), 0o700)
}

// TestHealthWarnsReadableCatalog: health is degraded, naming the file and the
// fix, when other users can read the catalog or list its directory, and ok
// once both are private.
func TestHealthWarnsReadableCatalog(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "cat")
	path := filepath.Join(dir, "index.db")
	c, err := Open(ctx, path, db.DefaultOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, h dto.Health) dto.Check {
		t.Helper()
		for _, ch := range h.Checks {
			if ch.Name == "permissions" {
				return ch
			}
		}
		t.Fatalf("health has no permissions check: %+v", h.Checks)
		return dto.Check{}
	}
	for _, tc := range []struct {
		name              string
		fileMode, dirMode fs.FileMode
		want              dto.CheckStatus
		mentions          []string
	}{
		{"private", 0o600, 0o700, dto.StatusOK, nil},
		{"world-readable file", 0o644, 0o700, dto.StatusDegraded, []string{path, "0644", "chmod 600"}},
		{"group-readable file", 0o640, 0o700, dto.StatusDegraded, []string{path, "0640"}},
		{"listable directory", 0o600, 0o755, dto.StatusDegraded, []string{dir, "0755", "chmod 700"}},
		{"traversable directory", 0o600, 0o711, dto.StatusOK, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.Chmod(path, tc.fileMode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, tc.dirMode); err != nil {
				t.Fatal(err)
			}
			h := Health(ctx, path, db.DefaultOptions(), false)
			ch := check(t, h)
			if ch.Status != tc.want || h.Status != tc.want {
				t.Errorf("permissions %s (%s), health %s; want %s", ch.Status, ch.Detail, h.Status, tc.want)
			}
			for _, m := range tc.mentions {
				if !strings.Contains(ch.Detail, m) {
					t.Errorf("detail %q does not mention %q", ch.Detail, m)
				}
			}
			if got, want := h.Facts["catalog_mode"], fmt.Sprintf("%04o", tc.fileMode); got != want {
				t.Errorf("catalog_mode fact %v, want %s", got, want)
			}
			if got, want := h.Facts["directory_mode"], fmt.Sprintf("%04o", tc.dirMode); got != want {
				t.Errorf("directory_mode fact %v, want %s", got, want)
			}
		})
	}
}

// soundExceptPermissions reports whether every check of h but permissions is
// ok. Tests of restores over fixture files written 0644 ask whether the
// restored catalog is sound; who may read it is TestHealthWarnsReadableCatalog's
// business.
func soundExceptPermissions(h dto.Health) bool {
	for _, c := range h.Checks {
		if c.Name != "permissions" && c.Status != dto.StatusOK {
			return false
		}
	}
	return len(h.Checks) > 0
}
