package service

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/indexer/indexer/internal/walk"
)

// TestCatalogFiles: the catalog's own files are told by device and inode,
// so that a user's file whose name starts like the catalog's is not one,
// and a hard link or a symlink to one is.
func TestCatalogFiles(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "photos")
	c := openCatalogAt(t, db)
	defer c.Close()
	writeFile(t, db+"-journal", nil) // absent with WAL; present after a crash in rollback mode
	writeFile(t, filepath.Join(dir, "backups", "photos-20261122T030405Z.db"), []byte("backup"))
	for _, p := range []string{"photos-2019/a.jpg", "photos.bak", "photosx", "backupsX/b", ".indexer-notes.tmp", "other/photos"} {
		writeFile(t, filepath.Join(dir, p), []byte(p))
	}
	if err := os.Link(db, filepath.Join(dir, "other", "hardlink")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "backups"), filepath.Join(dir, "other", "backups-link")); err != nil {
		t.Fatal(err)
	}
	own := catalogFiles(db)
	for _, tt := range []struct {
		path string
		want bool
	}{
		{"photos", true},
		{"photos-wal", true},
		{"photos-shm", true},
		{"photos-journal", true},
		{"photos.lock", true},
		{"backups", true},
		{"other/hardlink", true},
		{"other/backups-link", true},
		{"photos-2019", false},
		{"photos-2019/a.jpg", false},
		{"photos.bak", false},
		{"photosx", false},
		{"backupsX", false},
		{"backups/photos-20261122T030405Z.db", false}, // below the folder, never reached
		{".indexer-notes.tmp", false},
		{"other/photos", false},
	} {
		st, err := walk.Follow(filepath.Join(dir, tt.path))
		if err != nil {
			t.Fatal(err)
		}
		if got := own(st); got != tt.want {
			t.Errorf("catalogFiles: %s is the catalog's own %v, want %v", tt.path, got, tt.want)
		}
	}
}
