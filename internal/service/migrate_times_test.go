package service

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/indexer/indexer/internal/dbtest"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/migrations"
)

// versionBeforeExactTimes is the schema version of catalogs written before
// the migration that stores times as seconds and nanoseconds.
func versionBeforeExactTimes(tb testing.TB) int {
	tb.Helper()
	names, err := fs.Glob(migrations.FS, "*.sql") // sorted
	if err != nil {
		tb.Fatal(err)
	}
	for i, n := range names {
		if strings.HasSuffix(n, "_exact_times.sql") {
			return i
		}
	}
	tb.Fatal("no *_exact_times.sql migration")
	return 0
}

// TestMigrateExactTimes opens a catalog written before times were stored as
// seconds and nanoseconds, its rows as the older indexer wrote them (Unix
// nanoseconds), and checks that every time reads back exactly, and that the
// next scan reads again, and corrects, only the file whose time had wrapped.
func TestMigrateExactTimes(t *testing.T) {
	root := t.TempDir()
	plain := filepath.Join(root, "plain.txt")
	wrapped := filepath.Join(root, "wrapped.txt")
	plainTime := time.Date(2023, 4, 5, 6, 7, 8, 123456789, time.UTC)
	wrappedTime := time.Date(2446, 5, 10, 22, 38, 54, 987654321, time.UTC)
	writeFile(t, plain, []byte("plain\n"))
	writeFile(t, wrapped, []byte("wrapped\n"))
	setMtime(t, plain, plainTime)
	setMtime(t, wrapped, wrappedTime)
	outOfRacyWindow()

	path := filepath.Join(t.TempDir(), "index.db")
	dbtest.WriteOldCatalog(t, path, versionBeforeExactTimes(t), func(exec func(q string, args ...any)) {
		// A file as the older scan recorded it: modified and the validators
		// in Unix nanoseconds, wrapping after 2262, as time.UnixNano does.
		scanned := func(p string, data string) {
			var st unix.Stat_t
			if err := unix.Stat(p, &st); err != nil {
				t.Fatal(err)
			}
			mtime := st.Mtim.Sec*1e9 + st.Mtim.Nsec
			m, s1, s256 := md5.Sum([]byte(data)), sha1.Sum([]byte(data)), sha256.Sum256([]byte(data))
			exec(`INSERT INTO files (machine, path, name, size, created, modified, scanned, operation,
				md5, sha1, sha256, mtime_ns, ctime_ns, inode, device, nlink)
				VALUES ('m', ?, ?, ?, NULL, ?, 1, 'ADD', ?, ?, ?, ?, ?, ?, ?, 1)`,
				p, filepath.Base(p), len(data), mtime, m[:], s1[:], s256[:],
				mtime, st.Ctim.Sec*1e9+st.Ctim.Nsec, int64(st.Ino), int64(st.Dev))
		}
		scanned(plain, "plain\n")
		scanned(wrapped, "wrapped\n")
		// Rows elsewhere whose times sit on either side of the epoch, and a
		// tar entry at the epoch.
		row := func(p, inner string, created any, modified int64) {
			exec(`INSERT INTO files (machine, path, archive_path, name, size, created, modified, scanned, operation, is_archived)
				VALUES ('m', ?, ?, 'x', 1, ?, ?, 1, 'ADD', ?)`, p, inner, created, modified, inner != "")
		}
		row("/elsewhere/epoch", "", int64(0), 0)
		row("/elsewhere/before-epoch", "", int64(-1), -500000000)
		row("/elsewhere/build.tar", "epoch.o", nil, 0)
		row("/elsewhere/1901", "", nil, time.Date(1901, 12, 14, 0, 0, 0, 5, time.UTC).UnixNano())
	})

	c := openCatalogAt(t, path)
	want := map[string]time.Time{
		plain:                           plainTime,
		"/elsewhere/epoch":              time.Unix(0, 0),
		"/elsewhere/before-epoch":       time.Date(1969, 12, 31, 23, 59, 59, 500000000, time.UTC),
		"/elsewhere/build.tar::epoch.o": time.Unix(0, 0),
		"/elsewhere/1901":               time.Date(1901, 12, 14, 0, 0, 0, 5, time.UTC),
		// The older indexer's wrong time is kept until the file is read again.
		wrapped: time.Unix(0, wrappedTime.UnixNano()),
	}
	checkTimes(t, modifiedTimes(t, c), want)
	wantCreated := map[string]time.Time{
		plain:                           {},
		"/elsewhere/epoch":              time.Unix(0, 0),
		"/elsewhere/before-epoch":       time.Unix(0, -1),
		"/elsewhere/build.tar::epoch.o": {},
	}
	_, err := c.Find(context.Background(), FindOptions{MaxSize: -1, IncludeArchived: true}, func(f dto.FileWithHash) error {
		k := entryPath(f.Path, f.ArchivePath)
		if w, ok := wantCreated[k]; ok && !f.Created.Equal(w) {
			t.Errorf("%s: created %v, want %v", k, f.Created, w)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The next scan reads the wrapped file again, and only it.
	rep := mustScan(t, c, []string{root}, ScanOptions{Machine: "m"})
	if rep.Counts.Unchanged != 2 || rep.Counts.BytesHashed != int64(len("wrapped\n")) {
		t.Errorf("scan after the upgrade: %+v; want 2 unchanged, only wrapped.txt read", rep.Counts)
	}
	want[wrapped] = wrappedTime
	checkTimes(t, modifiedTimes(t, c), want)
}
