package uow_test

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dbtest"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/pgtest"
	"github.com/indexer/indexer/internal/uow"
)

// TestContentTotalsNeverMakeWritersWait proves on PostgreSQL that the
// totals stats reads (content_totals) do not serialize concurrent scans:
// two units of work each write files of new contents, and a duplicate of
// contents written before, and both hold their transactions open until
// the other has written too, which a row of totals shared by every writer
// would forbid (the second would wait for the first to commit: the test
// ends at its guard). A fold then runs while both are still open, without
// waiting for them, and once they commit the totals are those of the
// contents, folded or not.
func TestContentTotalsNeverMakeWritersWait(t *testing.T) {
	d, err := db.Open(t.Context(), pgtest.URL(t), db.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	u := uow.New(d)
	write := func(ctx context.Context, r *uow.Repos, machine string, contents ...string) error {
		var fs []dto.FileWithHash
		for i, c := range contents {
			p := fmt.Sprintf("/%s/f%d", machine, i)
			fs = append(fs, dto.FileWithHash{Hash: digests(c), FileMeta: dto.FileMeta{Machine: machine, Path: p, Name: p[1:],
				Size: int64(len(c)), Modified: time.Unix(1, 0), Scanned: time.Unix(1, 0), Operation: dto.OpAdd}})
		}
		_, err := r.Files.InsertMany(ctx, fs)
		return err
	}
	// Contents "a" and "b", one file each: the writers below make each a
	// group of duplicates.
	if err := u.Do(t.Context(), "setup", func(ctx context.Context, r *uow.Repos) error {
		return write(ctx, r, "m0", "a", "b")
	}); err != nil {
		t.Fatal(err)
	}

	var wrote sync.WaitGroup
	wrote.Add(2)
	release := make(chan struct{})
	var once [2]sync.Once
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), guard)
			defer cancel()
			errs[i] = u.Do(ctx, "scan.chunk", func(ctx context.Context, r *uow.Repos) error {
				m := fmt.Sprintf("m%d", i+1)
				if err := write(ctx, r, m, m+" one", m+" two", []string{"a", "b"}[i]); err != nil {
					return err
				}
				once[i].Do(func() {
					wrote.Done()
					<-release
				})
				return nil
			})
		})
	}
	both := make(chan struct{})
	go func() { wrote.Wait(); close(both) }()
	select {
	case <-both:
	case <-time.After(guard):
		close(release)
		wg.Wait()
		t.Fatalf("one writer waited for the other to commit: %v", errs)
	}
	ctx, cancel := context.WithTimeout(t.Context(), guard)
	defer cancel()
	if err := u.Do(ctx, "fold", func(ctx context.Context, r *uow.Repos) error { return r.Files.FoldContentTotals(ctx) }); err != nil {
		close(release)
		wg.Wait()
		t.Fatalf("a fold while two writers are open: %v", err)
	}
	close(release)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}

	// 6 contents; groups a and b of 2 files of 1 byte each.
	want := stats{Contents: 6, Groups: 2, Files: 4, Reclaimable: 2}
	if got, rows := contentTotals(t, u); got != want || rows != 3 {
		t.Errorf("content totals %+v in %d rows, want %+v in 3 (slot 0 and the two writers')", got, rows, want)
	}
	if err := u.Do(t.Context(), "fold", func(ctx context.Context, r *uow.Repos) error { return r.Files.FoldContentTotals(ctx) }); err != nil {
		t.Fatal(err)
	}
	if got, rows := contentTotals(t, u); got != want || rows != 1 {
		t.Errorf("folded: content totals %+v in %d rows, want %+v in 1", got, rows, want)
	}
}

// TestContentTotalsCountMixedSizes: a content recorded under two sizes
// (a forged or damaged row: one sha256 is one size) is one the summary
// cannot answer for. content_totals counts it, so that dupes and stats
// read the rows while it is there, and answer from the summary again once
// it is gone.
func TestContentTotalsCountMixedSizes(t *testing.T) {
	d := dbtest.MustOpen(t)
	u := uow.New(d)
	x := digests("x")
	odd := dto.FileWithHash{Hash: x, FileMeta: dto.FileMeta{Machine: "m", Path: "/odd", Name: "odd", Size: 2,
		Modified: time.Unix(1, 0), Scanned: time.Unix(1, 0), Operation: dto.OpAdd}}
	odd.Hash.Size = 2
	var ids []int64
	err := u.Do(t.Context(), "write", func(ctx context.Context, r *uow.Repos) error {
		var fs []dto.FileWithHash
		for _, p := range []string{"/a", "/b"} {
			fs = append(fs, dto.FileWithHash{Hash: x, FileMeta: dto.FileMeta{Machine: "m", Path: p, Name: p[1:], Size: 1,
				Modified: time.Unix(1, 0), Scanned: time.Unix(1, 0), Operation: dto.OpAdd}})
		}
		var err error
		ids, err = r.Files.InsertMany(ctx, append(fs, odd))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// Three rows of x: from the rows, one group of three files, 4 bytes
	// reclaimable at the largest size (the summary, which keeps the size
	// x was first seen under, would say 2).
	if got, want := dupeTotals(t, u), (dto.DupeTotals{Groups: 1, Files: 3, Reclaimable: 4}); got != want {
		t.Errorf("with x under two sizes: %+v, want %+v from the rows", got, want)
	}
	if got := mixed(t, u); got != 1 {
		t.Errorf("content_totals counts %d mixed contents, want 1", got)
	}
	err = u.Do(t.Context(), "forget", func(ctx context.Context, r *uow.Repos) error {
		tx := uow.TxOf(r)
		_, err := tx.ExecContext(ctx, tx.Rebind("DELETE FROM files WHERE id = ?"), ids[2])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := mixed(t, u); got != 0 {
		t.Errorf("content_totals counts %d mixed contents once the odd row is gone, want 0", got)
	}
	if got, want := dupeTotals(t, u), (dto.DupeTotals{Groups: 1, Files: 2, Reclaimable: 1}); got != want {
		t.Errorf("with x under one size: %+v, want %+v", got, want)
	}
}

// TestContentTotalsFollowSavepoints: what a savepoint rolled back wrote
// leaves no trace in the totals (a scan's chunk that fails is written again
// file by file), and what the transaction wrote before and after it does.
func TestContentTotalsFollowSavepoints(t *testing.T) {
	d := dbtest.MustOpen(t)
	u := uow.New(d)
	file := func(path, content string) []dto.FileWithHash {
		return []dto.FileWithHash{{Hash: digests(content), FileMeta: dto.FileMeta{Machine: "m", Path: path, Name: path[1:],
			Size: int64(len(content)), Modified: time.Unix(1, 0), Scanned: time.Unix(1, 0), Operation: dto.OpAdd}}}
	}
	undone := errors.New("undone")
	err := u.Do(t.Context(), "scan.chunk", func(ctx context.Context, r *uow.Repos) error {
		if _, err := r.Files.InsertMany(ctx, file("/a", "aa")); err != nil {
			return err
		}
		err := r.Savepoint(ctx, func() error {
			if _, err := r.Files.InsertMany(ctx, append(file("/b", "aa"), file("/c", "cc")...)); err != nil {
				return err
			}
			return undone
		})
		if !errors.Is(err, undone) {
			return fmt.Errorf("savepoint: %v", err)
		}
		_, err = r.Files.InsertMany(ctx, file("/d", "dd"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := stats{Contents: 2}
	if got, rows := contentTotals(t, u); got != want {
		t.Errorf("content totals %+v in %d rows, want %+v: a and d, no group", got, rows, want)
	}
}

func dupeTotals(t *testing.T, u *uow.UoW) dto.DupeTotals {
	t.Helper()
	var d dto.DupeTotals
	err := u.Read(t.Context(), func(ctx context.Context, r *uow.Repos) error {
		var err error
		d, err = r.Files.DupeTotals(ctx, statsFilter)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func mixed(t *testing.T, u *uow.UoW) int64 {
	t.Helper()
	var n int64
	err := u.Read(t.Context(), func(ctx context.Context, r *uow.Repos) error {
		return uow.TxOf(r).GetContext(ctx, &n, "SELECT COALESCE(SUM(mixed), 0) FROM content_totals")
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

type stats struct{ Contents, Groups, Files, Reclaimable int64 }

// statsFilter is the duplicates stats counts: service.StatsDupes.
var statsFilter = dto.DupeFilter{MinSize: 1, MaxSize: -1}

// contentTotals returns what stats reads of the contents, and how many rows
// of content_totals it comes from.
func contentTotals(t *testing.T, u *uow.UoW) (stats, int) {
	t.Helper()
	var s stats
	var rows int
	err := u.Read(t.Context(), func(ctx context.Context, r *uow.Repos) error {
		var err error
		if s.Contents, err = r.Files.DistinctContents(ctx); err != nil {
			return err
		}
		d, err := r.Files.DupeTotals(ctx, statsFilter)
		if err != nil {
			return err
		}
		s.Groups, s.Files, s.Reclaimable = d.Groups, d.Files, d.Reclaimable
		return uow.TxOf(r).GetContext(ctx, &rows, "SELECT COUNT(*) FROM content_totals")
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, rows
}

// digests returns the real digests of a string.
func digests(s string) dto.FileHash {
	m, s1, s2 := md5.Sum([]byte(s)), sha1.Sum([]byte(s)), sha256.Sum256([]byte(s))
	return dto.FileHash{Size: int64(len(s)), MD5: hex.EncodeToString(m[:]), SHA1: hex.EncodeToString(s1[:]), SHA256: hex.EncodeToString(s2[:])}
}
