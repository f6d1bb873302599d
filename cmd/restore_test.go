package cmd

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/service"
)

// restoreCmdHealthy fails the test unless a full health check of the catalog
// at path passes.
// The permissions check is left out: the fixtures write catalogs 0644, and
// restore keeps the mode it finds (TestHealthWarnsReadableCatalog tests the
// check).
func restoreCmdHealthy(t *testing.T, path string) {
	t.Helper()
	h := service.Health(context.Background(), path, db.DefaultOptions(), true)
	for _, c := range h.Checks {
		if c.Name != "permissions" && c.Status != dto.StatusOK {
			t.Errorf("health of %s: %s: %+v", path, h.Status, h.Checks)
			return
		}
	}
}

// TestRestoreCommandOverUnusableCatalog: the catalog cannot be opened, which
// is when a user restores. restore must not need to open it, and must keep
// its bytes.
func TestRestoreCommandOverUnusableCatalog(t *testing.T) {
	cat, backup, rowsA := restoreCmdSetup(t)
	good, err := os.ReadFile(cat)
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, 32<<10)
	rand.Read(junk)
	for _, tt := range []struct {
		name  string
		bytes []byte
		cause string
	}{
		{"truncated", good[:len(good)/2], "it is truncated"},
		{"random bytes", junk, "it is not an SQLite database"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cat := filepath.Join(t.TempDir(), "index.db")
			if err := os.WriteFile(cat, tt.bytes, 0o644); err != nil {
				t.Fatal(err)
			}
			if code, _, errOut := backupCmdRun(t, nil, "--db", cat, "health"); code == ExitOK {
				t.Fatalf("health passes on the damaged catalog; the test does not test what it says: %s", errOut)
			}
			code, out, errOut := backupCmdRun(t, nil, "--db", cat, "--json", "restore", backup, "--yes")
			if code != ExitOK {
				t.Fatalf("restore: exit %d, stderr %q", code, errOut)
			}
			var res dto.Restore
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("restore --json: %v: %q", err, out)
			}
			var raw map[string]any
			_ = json.Unmarshal([]byte(out), &raw)
			if raw["damaged"] != true || !strings.HasPrefix(res.Problem, tt.cause) || res.Files != 40 || res.RestoredFrom != backup || res.Created {
				t.Errorf("restore --json = %s, want damaged, a problem starting %q and 40 files", out, tt.cause)
			}
			if dir := filepath.Join(filepath.Dir(cat), "backups"); filepath.Dir(res.SafetyBackup) != dir || !strings.HasSuffix(res.SafetyBackup, "-damaged.db") {
				t.Errorf("safety_backup %q, want an index-<time>-damaged.db in %s", res.SafetyBackup, dir)
			}
			if got, err := os.ReadFile(res.SafetyBackup); err != nil || !bytes.Equal(got, tt.bytes) {
				t.Errorf("safety backup holds %d bytes (%v), want the damaged file's %d", len(got), err, len(tt.bytes))
			}
			if got := backupCmdRows(t, cat); !slices.Equal(got, rowsA) {
				t.Errorf("after restore: %d rows, want the backup's %d", len(got), len(rowsA))
			}
			restoreCmdHealthy(t, cat)
		})
	}

	t.Run("confirmed on a terminal", func(t *testing.T) {
		cat := filepath.Join(t.TempDir(), "index.db")
		if err := os.WriteFile(cat, junk, 0o644); err != nil {
			t.Fatal(err)
		}
		// No terminal and no --yes: nothing happens.
		code, _, errOut := backupCmdRun(t, strings.NewReader("y\n"), "--db", cat, "restore", backup)
		if code != ExitUsage || !strings.Contains(errOut, "--yes") {
			t.Errorf("without --yes or a terminal: exit %d, stderr %q", code, errOut)
		}
		orig := restoreAsks
		restoreAsks = func(io.Reader) bool { return true }
		defer func() { restoreAsks = orig }()
		code, _, errOut = backupCmdRun(t, strings.NewReader("n\n"), "--db", cat, "restore", backup)
		if code != ExitError || !strings.Contains(errOut, "canceled") {
			t.Errorf("declined: exit %d, stderr %q", code, errOut)
		}
		if got, _ := os.ReadFile(cat); !bytes.Equal(got, junk) {
			t.Fatal("a declined restore changed the damaged catalog")
		}
		code, out, errOut := backupCmdRun(t, strings.NewReader("y\n"), "--db", cat, "restore", backup)
		question := "The catalog " + cat + " cannot be used: it is not an SQLite database. Replace it with " + backup
		if code != ExitOK || !strings.HasPrefix(errOut, question) || !strings.Contains(errOut, "A raw copy of it is saved to "+filepath.Join(filepath.Dir(cat), "backups")) {
			t.Errorf("confirmed: exit %d, stderr %q, want it to start %q", code, errOut, question)
		}
		if !strings.Contains(out, "restored "+cat+" from "+backup+": 40 files") ||
			!strings.Contains(out, "the file that was there could not be used (it is not an SQLite database); a raw copy of it is saved at "+filepath.Join(filepath.Dir(cat), "backups", "index-")) {
			t.Errorf("stdout %q", out)
		}
		if got := backupCmdRows(t, cat); !slices.Equal(got, rowsA) {
			t.Errorf("after restore: %d rows, want the backup's %d", len(got), len(rowsA))
		}
	})

	t.Run("missing", func(t *testing.T) {
		cat := filepath.Join(t.TempDir(), "new", "index.db")
		code, out, errOut := backupCmdRun(t, nil, "--db", cat, "restore", backup, "--yes")
		if code != ExitOK || !strings.Contains(out, "restored "+cat+" from "+backup+": 40 files") ||
			!strings.Contains(out, "there was no catalog at "+cat+", so restore created it and had nothing to save") {
			t.Fatalf("restore over no catalog: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		if got := backupCmdRows(t, cat); !slices.Equal(got, rowsA) {
			t.Errorf("after restore: %d rows, want the backup's %d", len(got), len(rowsA))
		}
		restoreCmdHealthy(t, cat)
		if _, err := os.Stat(filepath.Join(filepath.Dir(cat), "backups")); err == nil {
			t.Error("restore over no catalog created backups/")
		}
	})

	t.Run("another program's database", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "places.sqlite")
		sqliteExec(t, other, "CREATE TABLE places (id INTEGER PRIMARY KEY, url TEXT)", "INSERT INTO places (url) VALUES ('https://example.org')")
		sum := backupCmdSum(t, other)
		code, out, errOut := backupCmdRun(t, nil, "--db", other, "restore", backup, "--yes")
		want := "indexer: cannot restore over " + other + ": it is an SQLite database of another program, not an indexer catalog; check --db, or pass --force to replace it"
		if code != ExitError || !strings.HasPrefix(errOut, want) || strings.Count(errOut, "\n") != 1 || out != "" {
			t.Errorf("restore over another program's database: exit %d, stderr %q, want it to start %q", code, errOut, want)
		}
		if backupCmdSum(t, other) != sum {
			t.Error("a refused restore changed the other program's database")
		}
		code, out, errOut = backupCmdRun(t, nil, "--db", other, "--json", "restore", backup, "--yes", "--force")
		var res dto.Restore
		if code != ExitOK || json.Unmarshal([]byte(out), &res) != nil || !res.Damaged || !strings.HasSuffix(res.SafetyBackup, "-not-a-catalog.db") {
			t.Fatalf("restore --force: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		if backupCmdSum(t, res.SafetyBackup) != sum {
			t.Error("the copy of the other program's database differs from it")
		}
	})
}

// TestRestoreCommandOverDamagedCatalogInUse: a scan opened the catalog before
// it was damaged. restore must refuse and leave the file alone.
func TestRestoreCommandOverDamagedCatalogInUse(t *testing.T) {
	cat, backup, _ := restoreCmdSetup(t)
	scan, err := db.Open(context.Background(), cat, db.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer scan.Close()
	// Fold everything into the file, so that the damage below is what SQLite reads.
	if err := scan.WithWrite(func(w *sqlx.DB) error { _, err := w.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); return err }); err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, 32<<10)
	rand.Read(junk)
	if err := os.WriteFile(cat, junk, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := backupCmdRun(t, nil, "--db", cat, "restore", backup, "--yes")
	want := "indexer: catalog " + cat + " is in use by another indexer process (a scan?); try again when it finishes or pass --wait\n"
	if code != ExitError || errOut != want {
		t.Errorf("restore while in use: exit %d, stderr %q, want %q", code, errOut, want)
	}
	if got, _ := os.ReadFile(cat); !bytes.Equal(got, junk) {
		t.Error("a refused restore changed the damaged catalog")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(cat), "backups")); err == nil {
		t.Error("a refused restore wrote to backups/")
	}
}
