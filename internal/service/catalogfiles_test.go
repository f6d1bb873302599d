package service

import "testing"

func TestCatalogFiles(t *testing.T) {
	own := catalogFiles("/data/idx/index.db")
	for _, tt := range []struct {
		path string
		want bool
	}{
		{"/data/idx/index.db", true},
		{"/data/idx/index.db-wal", true},
		{"/data/idx/index.db-shm", true},
		{"/data/idx/index.db.lock", true},
		{"/data/idx/backups", true},
		{"/data/idx/backups/index-20261122T030405Z.db", true},
		{"/data/idx/.indexer-restore-123.tmp", true},
		{"/data/idx/.indexer-backup-9.tmp", true},
		{"/data/idx/index.dbx", false},
		{"/data/idx/other.db", false},
		{"/data/idx/sub/.indexer-restore-1.tmp", false},
		{"/data/idx/backupsX", false},
		{"/data/idx/.indexer-notes.txt", false},
	} {
		if got := own(tt.path); got != tt.want {
			t.Errorf("catalogFiles(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}
