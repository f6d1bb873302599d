package service

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/uow"
	"github.com/indexer/indexer/internal/walk"
)

// chunkFiles is how many files one write transaction carries; deleteIDs is
// how many files one transaction marks DEL (in statements of repo.ChunkSize
// ids each). Those are tiny updates, so more fit one commit.
const (
	chunkFiles = 200
	deleteIDs  = 2000
)

// result is a file for the writer: hashed, or failed.
type result struct {
	path  string
	st    walk.Stat
	hash  dto.FileHash
	known *known
	err   error
	// An archive entry has its inner path here (path is the archive's) and
	// its modification time from the archive.
	inner    string
	modified time.Time
}

// writer commits results in chunks, through chunkWriters(dialect) of them
// at once. It returns an error only when the catalog cannot be written at
// all, and then calls abort at once; per-file failures go to the report.
func (s *scanRun) writer(ctx context.Context, results <-chan result, abort func()) error {
	n := chunkWriters(s.uow.DB().Dialect())
	if n == 1 {
		return s.chunkWriter(ctx, results, abort)
	}
	// Each writer has a lane of the results, by path: an archive's entries
	// and its own row, sent after them, share a lane, whose writer commits
	// them in that order. The next scan trusts a stored archive row and
	// does not read its entries again: were the row committed before a
	// chunk of its entries, a scan killed between the two would lose those
	// entries for good. (Lanes measured no slower than one channel both
	// writers take from: BenchmarkScanTiny on PostgreSQL, 1.55-1.80 s
	// against 1.88-2.52 s a scan, three runs each, alternated.)
	seed := maphash.MakeSeed()
	lanes := make([]chan result, n)
	var g errgroup.Group
	for i := range lanes {
		lanes[i] = make(chan result, chunkFiles)
		g.Go(func() error { return s.chunkWriter(ctx, lanes[i], abort) })
	}
	for r := range results {
		lanes[maphash.String(seed, r.path)%uint64(n)] <- r
	}
	for _, l := range lanes {
		close(l)
	}
	return g.Wait()
}

// chunkWriters is how many chunks a scan writes at once. SQLite has one
// writer at a time. A PostgreSQL server writes each chunk in a backend of its
// own, and one chunk at a time kept the scan waiting on that one backend
// (100,000 small files on 2 cores: the server busy 7.7 s of an 11.2 s scan,
// the client 8 s, 1.4 cores used); with two in flight the server's work
// overlaps itself and the client's (10.7-12.6 s against 8.8-13.6 s at
// load 2.8; then 8.0-8.5 s once a chunk's change log took one statement,
// see Files.InsertAdded). Three and four measured slower than two.
func chunkWriters(dl db.Dialect) int {
	if dl.Shared {
		return 2
	}
	return 1
}

// chunkWriter is one writer: it gathers results into chunks and commits
// each.
func (s *scanRun) chunkWriter(ctx context.Context, results <-chan result, abort func()) error {
	var batch []result
	var fatal error
	flush := func() {
		if fatal == nil && len(batch) > 0 {
			if fatal = s.flush(ctx, batch); fatal != nil {
				abort()
			}
		}
		batch = batch[:0]
	}
	for r := range results {
		if fatal != nil {
			continue // drain so that producers never block
		}
		switch {
		case r.err != nil:
			s.fail(r.path, r.err)
		default:
			batch = append(batch, r)
		}
		if len(batch) >= chunkFiles {
			flush()
			s.maybeDeferIndexes(ctx)
		}
	}
	flush()
	return fatal
}

// tally counts what a committed chunk did.
// created counts the rows made for files the catalog had no row of.
type tally struct{ added, modified, unchanged, bytes, created, entries int64 }

// add counts o's files in t too.
func (t *tally) add(o tally) {
	t.added += o.added
	t.modified += o.modified
	t.unchanged += o.unchanged
	t.bytes += o.bytes
	t.created += o.created
	t.entries += o.entries
}

// flush writes batch, a chunk: one bad row costs one file, never the chunk
// (see db.Dialect.ChunkSavepoints for the two ways).
func (s *scanRun) flush(ctx context.Context, batch []result) error {
	defer s.chunkLock(batch)()
	if s.uow.DB().Dialect().ChunkSavepoints() {
		return s.flushSavepoints(ctx, batch)
	}
	return s.flushTransactions(ctx, batch)
}

// chunkLock lets batch's transaction run beside the other writer's only
// when both add files the catalog has no row of, and returns its unlock. The
// triggers of an insert lock the summary's rows in key order (contents, then
// file_totals, migration 0018), so two inserts wait for each other but never
// deadlock. An update's (a modified file, or one back after a deletion)
// lock them row by row, in any order: two such transactions side by side
// deadlocked, each found after the server's deadlock_timeout (a rescan of
// 6,000 modified files on PostgreSQL: 9 deadlocks in 30 chunks, 11.7 s).
func (s *scanRun) chunkLock(batch []result) (unlock func()) {
	for _, b := range batch {
		if b.known != nil {
			s.chunks.Lock()
			return s.chunks.Unlock
		}
	}
	s.chunks.RLock()
	return s.chunks.RUnlock
}

// flushSavepoints writes batch in one transaction. The chunk is one write
// inside a savepoint; when it fails (one bad row), the transaction rolls back
// to the savepoint and writes the chunk's files one by one, each in a
// savepoint of its own, so one bad file costs one file and the chunk still
// commits once. Errors no retry can cure, and lock conflicts, end the
// transaction: uow.Do runs it again from its start for the latter, and the
// scan stops on the former.
func (s *scanRun) flushSavepoints(ctx context.Context, batch []result) error {
	var t tally
	var failed []Failure
	err := s.uow.Do(ctx, "scan.chunk", func(ctx context.Context, r *uow.Repos) error {
		t, failed = tally{}, nil
		err := r.Savepoint(ctx, func() error { return s.writeFiles(ctx, r, batch, &t, false) })
		if err == nil || isFatalWrite(err) {
			return err
		}
		s.logChunkFailure(err, len(batch))
		t = tally{}
		for i := range batch {
			var ft tally
			err := r.Savepoint(ctx, func() error { return s.writeFiles(ctx, r, batch[i:i+1], &ft, true) })
			switch {
			case err == nil:
				t.add(ft)
			case isFatalWrite(err):
				return err
			default:
				failed = append(failed, Failure{Path: entryPath(batch[i].path, batch[i].inner), Err: fmt.Errorf("store in catalog: %w", err)})
			}
		}
		return nil
	})
	if err != nil {
		if isFatalWrite(err) {
			return fmt.Errorf("write to catalog: %w", err)
		}
		// The commit itself failed: nothing of the chunk is stored.
		for _, b := range batch {
			s.fail(entryPath(b.path, b.inner), fmt.Errorf("store in catalog: %w", err))
		}
		return nil
	}
	s.count(t, 0)
	for _, f := range failed {
		s.fail(f.Path, f.Err)
	}
	return nil
}

// flushTransactions writes batch in one transaction; when it fails, the
// transaction is rolled back and the chunk's files are written one by one,
// each in a transaction of its own.
func (s *scanRun) flushTransactions(ctx context.Context, batch []result) error {
	var t tally
	err := s.uow.Do(ctx, "scan.chunk", func(ctx context.Context, r *uow.Repos) error {
		t = tally{}
		return s.writeFiles(ctx, r, batch, &t, false)
	})
	if err == nil {
		s.count(t, 0)
		return nil
	}
	if isFatalWrite(err) {
		return fmt.Errorf("write to catalog: %w", err)
	}
	s.logChunkFailure(err, len(batch))
	for i := range batch {
		var t tally
		err := s.uow.Do(ctx, "scan.file", func(ctx context.Context, r *uow.Repos) error {
			t = tally{}
			return s.writeFiles(ctx, r, batch[i:i+1], &t, true)
		})
		switch {
		case err == nil:
			s.count(t, 0)
		case isFatalWrite(err):
			return fmt.Errorf("write to catalog: %w", err)
		default:
			s.fail(entryPath(batch[i].path, batch[i].inner), fmt.Errorf("store in catalog: %w", err))
		}
	}
	return nil
}

// logChunkFailure logs why a chunk of n files is written one by one. A
// unique-key conflict is most often another scan having stored some of
// these files since this one loaded the catalog: routine, not news. What a
// file's own write cannot store is listed as a failure either way.
func (s *scanRun) logChunkFailure(err error, n int) {
	if db.Kind(err) == "constraint" {
		s.c.log.Debug("chunk write met a constraint, writing its files one by one", "files", n, "err", err)
	} else {
		s.c.log.Warn("chunk write failed, writing its files one by one", "files", n, "err", err)
	}
}

// isFatalWrite tells errors that no per-file retry can cure: the catalog is
// locked, full, unwritable or damaged, or the context is done.
func isFatalWrite(err error) bool {
	switch db.Kind(err) {
	case "busy", "full", "ioerr", "corrupt", "canceled":
		return true
	}
	return errors.Is(err, db.ErrClosed) || errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EACCES)
}

// writeFiles stores batch. Files the catalog had no row of are inserted,
// the others upserted: a plain insert needs no statement journal, and is the
// bulk of a first scan. If another scan added one of them meanwhile, the
// insert fails on the unique key, and the per-file retry (upsert true)
// upserts every file.
func (s *scanRun) writeFiles(ctx context.Context, r *uow.Repos, batch []result, t *tally, upsert bool) error {
	if len(batch) == 0 {
		return nil
	}
	var fresh, known []dto.FileWithHash // rows to insert, rows to upsert
	var changes []dto.Change            // for the change log, in this same transaction
	for _, b := range batch {
		op := dto.OpAdd
		logged := true
		switch {
		case b.known == nil || b.known.op == dto.OpDel:
			t.added++
		case !b.known.hashed || hex.EncodeToString(b.known.sha256[:]) != b.hash.SHA256:
			op = dto.OpMod
			t.modified++
		default:
			op = b.known.op // same content: only the stat changed
			logged = false
			t.unchanged++
		}
		t.bytes += b.hash.Size
		if b.known == nil {
			t.created++
		}
		f := dto.FileWithHash{Hash: b.hash}
		if b.inner != "" {
			t.entries++
			f.FileMeta = s.entryMeta(b, op)
		} else {
			f.FileMeta = dto.FileMeta{
				Machine: s.opts.Machine, Path: s.cat(b.path), Name: filepath.Base(b.path), Size: b.hash.Size,
				Created: b.st.Created, Modified: b.st.Modified, Scanned: s.rep.Started, Operation: op,
				ScanID: s.rep.ID, Exec: b.st.Exec, Validators: s.validators(b.st.Validators),
			}
		}
		if b.known == nil && !upsert {
			fresh = append(fresh, f) // logged from its new row below
			continue
		}
		if logged {
			changes = append(changes, changeOf(f, b.known))
		}
		known = append(known, f)
	}
	if err := r.Files.InsertAdded(ctx, fresh, s.rep.ID); err != nil {
		return err
	}
	if err := r.Changes.Record(ctx, changes); err != nil {
		return err
	}
	return r.Files.UpsertMany(ctx, known)
}
