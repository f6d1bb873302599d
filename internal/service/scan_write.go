package service

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"syscall"
	"time"

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

// writer commits results in chunks. It returns an error only when the
// catalog cannot be written at all, and then calls abort at once; per-file
// failures go to the report.
func (s *scanRun) writer(ctx context.Context, results <-chan result, abort func()) error {
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

func (s *scanRun) flush(ctx context.Context, batch []result) error {
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
	// One bad row must cost one file, not the chunk: retry each on its own.
	// A unique-key conflict is most often another scan having stored some
	// of these files since this one loaded the catalog: routine, not news.
	// What the retry cannot store is listed as a failure either way.
	if db.Kind(err) == "constraint" {
		s.c.log.Debug("chunk write met a constraint, retrying file by file", "files", len(batch), "err", err)
	} else {
		s.c.log.Warn("chunk write failed, retrying file by file", "files", len(batch), "err", err)
	}
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
				Machine: s.opts.Machine, Path: b.path, Name: filepath.Base(b.path), Size: b.hash.Size,
				Created: b.st.Created, Modified: b.st.Modified, Scanned: s.rep.Started, Operation: op,
				ScanID: s.rep.ID, Exec: b.st.Exec, Validators: b.st.Validators,
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
	ids, err := r.Files.InsertMany(ctx, fresh)
	if err != nil {
		return err
	}
	if err := r.Changes.RecordAdded(ctx, ids, s.rep.ID); err != nil {
		return err
	}
	if err := r.Changes.Record(ctx, changes); err != nil {
		return err
	}
	return r.Files.UpsertMany(ctx, known)
}
