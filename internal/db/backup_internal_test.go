package db

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jmoiron/sqlx"
)

// TestBackupToManyStepsUnderWriter copies two pages per step while another
// connection commits batches of 20 files without pause. The copy must come
// from one snapshot (whole batches, counts equal to those read with it) and
// must finish: without the read transaction held across steps, SQLite would
// restart the copy after every commit.
func TestBackupToManyStepsUnderWriter(t *testing.T) {
	defer func(n int32) { backupStepPages = n }(backupStepPages)
	backupStepPages = 2
	ctx := context.Background()
	d, err := Open(ctx, filepath.Join(t.TempDir(), "index.db"), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	insert := func(from, n int) error {
		return d.WithWrite(func(w *sqlx.DB) error {
			_, err := w.ExecContext(ctx, `WITH RECURSIVE c(x) AS (SELECT ? UNION ALL SELECT x + 1 FROM c WHERE x < ?)
				INSERT INTO files (machine, path, name, size, modified_sec, scanned, operation, md5, sha1, sha256)
				SELECT 'm', printf('/f%d', x), printf('f%d', x), x, 1, 1, 'ADD',
				       unhex(printf('%032x', x)), unhex(printf('%040x', x)), unhex(printf('%064x', x)) FROM c`, from, from+n-1)
			return err
		})
	}
	if err := insert(1, 2000); err != nil { // a few hundred pages
		t.Fatal(err)
	}
	var commits atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var werr error
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if werr = insert(1_000_000+i*20, 20); werr != nil {
				return
			}
			commits.Add(1)
		}
	})
	dst := filepath.Join(t.TempDir(), "copy.db")
	before := commits.Load()
	counts, err := d.BackupTo(ctx, dst)
	during := commits.Load() - before
	close(stop)
	wg.Wait()
	if err != nil || werr != nil {
		t.Fatalf("BackupTo: %v; writer: %v", err, werr)
	}
	t.Logf("%d commits landed while the copy ran", during)
	if during == 0 {
		t.Log("no commit overlapped the copy; the snapshot was not put to the test")
	}
	info, err := Inspect(ctx, dst, true)
	if err != nil {
		t.Fatal(err)
	}
	if info.Counts != counts || (counts.Files-2000)%20 != 0 || counts.Hashes != counts.Files {
		t.Errorf("copy holds %+v, the snapshot %+v; want equal, whole batches of 20 files, one content each", info.Counts, counts)
	}
}
