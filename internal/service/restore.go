package service

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/uow"
)

// RestoreOptions tune Restore.
type RestoreOptions struct {
	// Wait makes Restore wait, until ctx is done, for other processes that hold
	// the catalog (a running scan) instead of failing with db.ErrInUse.
	Wait bool
	// OnWait, if set, is called once when Restore starts waiting.
	OnWait func()
}

// Restore replaces the catalog's content with the backup at src, which must
// be an indexer catalog of this or an older schema version that passes
// integrity_check; src is checked before anything is touched.
//
// src is copied to a staged file beside the catalog, migrated if older, and
// checked again. Then, holding the catalog exclusively (db.Replace: no other
// indexer process has it open, this process's pools are closed), the current
// catalog is saved as a verified backup in BackupDir with the -pre-restore
// suffix, its -wal, -shm and -journal are removed so that no stale log can be
// replayed onto the new file, the staged file is renamed over it and the
// directory fsynced. The pools reopen on the new file, and every holder of this
// Catalog, its UoW or its DB sees the restored rows from its next query.
// Finally the counts read through the reopened pools must equal src's.
//
// Until the rename, a failure leaves the catalog's bytes unchanged and removes
// the staged file. When another process holds the catalog and opts.Wait is
// false, the error matches db.ErrInUse.
func (c *Catalog) Restore(ctx context.Context, src string, opts RestoreOptions) (dto.Restore, error) {
	abs, err := filepath.Abs(src)
	if err != nil {
		return dto.Restore{}, fmt.Errorf("resolve %s: %w", src, err)
	}
	src = abs
	cat := c.db.Path()
	if sameFile(src, cat) {
		return dto.Restore{}, fmt.Errorf("cannot restore from %s: it is the catalog itself", src)
	}
	info, err := db.Inspect(ctx, src, true)
	if err != nil {
		return dto.Restore{}, fmt.Errorf("cannot restore from %s: %w", src, err)
	}

	staged, err := stage(ctx, src, filepath.Dir(cat), info)
	if err != nil {
		return dto.Restore{}, err
	}
	defer removeDB(staged) // a no-op once it is renamed over the catalog

	safetyDir := BackupDir(cat)
	if err := os.MkdirAll(safetyDir, 0o755); err != nil {
		return dto.Restore{}, fmt.Errorf("create backup directory: %w", err)
	}
	now := time.Now()
	var safety string
	swap := func(path string) error {
		// The catalog is closed and no other indexer process has it open, so the
		// file on disk is exactly what is about to be replaced.
		cur, err := db.Inspect(ctx, path, false)
		if errors.Is(err, db.ErrPendingLog) {
			// Closing the last connection removes the WAL; it is still there, so
			// a program other than indexer has the catalog open.
			return fmt.Errorf("the catalog %s still has a write-ahead log after indexer closed it, so another program has it open; close that program and try again: %w", path, err)
		}
		if err != nil {
			return fmt.Errorf("read the current catalog %s: %w", path, err)
		}
		mode := fileMode(path)
		if !cur.Empty() {
			b, err := writeBackup(ctx, func(tmp string) (db.Counts, error) { return db.CopyFile(ctx, path, tmp) },
				backupDest{dir: safetyDir, prefix: backupPrefix(path), suffix: safetySuffix, mode: mode}, now)
			if err != nil {
				return fmt.Errorf("save the current catalog before restoring: %w", err)
			}
			safety = b.Path
		}
		if beforeInstall != nil {
			beforeInstall(path)
		}
		for _, side := range []string{"-wal", "-shm", "-journal"} {
			if err := os.Remove(path + side); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove the old %s: %w", side, err)
			}
		}
		if err := os.Chmod(staged, mode); err != nil {
			return fmt.Errorf("set the restored catalog's permissions: %w", err)
		}
		if err := os.Rename(staged, path); err != nil {
			return fmt.Errorf("move the restored catalog into place: %w", err)
		}
		return fsyncDir(filepath.Dir(path))
	}
	err = c.db.Replace(ctx, false, swap)
	if errors.Is(err, db.ErrInUse) && opts.Wait {
		c.log.Info("waiting for other indexer processes to release the catalog", "catalog", cat)
		if opts.OnWait != nil {
			opts.OnWait()
		}
		err = c.db.Replace(ctx, true, swap)
	}
	if err != nil {
		if safety != "" {
			return dto.Restore{}, fmt.Errorf("restore %s from %s: %w (the catalog as it was is saved at %s)", cat, src, err, safety)
		}
		return dto.Restore{}, fmt.Errorf("restore %s from %s: %w", cat, src, err)
	}

	// Read back through the reopened pools, the way every other holder will.
	var files, deleted, hashes int64
	err = c.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		counts, err := r.Files.Counts(ctx)
		if err != nil {
			return err
		}
		files, deleted = counts.Files, counts.Deleted
		hashes, err = r.Hashes.Count(ctx)
		return err
	})
	if err == nil && (files != info.Files || deleted != info.Deleted || hashes != info.Hashes) {
		err = fmt.Errorf("it holds %d files, %d deleted and %d hashes, but the backup holds %d, %d and %d",
			files, deleted, hashes, info.Files, info.Deleted, info.Hashes)
	}
	if err != nil {
		err = fmt.Errorf("the restored catalog %s failed verification: %w", cat, err)
		if safety != "" {
			err = fmt.Errorf("%w (the catalog as it was is saved at %s)", err, safety)
		}
		return dto.Restore{}, err
	}
	version, err := c.db.Version(ctx)
	if err != nil {
		return dto.Restore{}, fmt.Errorf("read restored schema version: %w", err)
	}
	c.log.Info("restored catalog", "catalog", cat, "from", src, "files", files, "hashes", hashes, "safety_backup", safety)
	return dto.Restore{Catalog: cat, RestoredFrom: src, Files: files, Deleted: deleted, Hashes: hashes,
		SchemaVersion: version, SafetyBackup: safety}, nil
}

// stage copies src into a temporary file in dir, migrates it if its schema is
// older, checks it again and fsyncs it. On failure nothing is left behind.
func stage(ctx context.Context, src, dir string, want db.Info) (string, error) {
	f, err := os.CreateTemp(dir, ".indexer-restore-*.tmp")
	if err != nil {
		return "", fmt.Errorf("create staging file: %w", err)
	}
	staged := f.Name()
	f.Close()
	fail := func(err error) (string, error) {
		removeDB(staged)
		return "", err
	}
	if _, err := db.CopyFile(ctx, src, staged); err != nil {
		return fail(fmt.Errorf("stage %s: %w", src, err))
	}
	if want.SchemaVersion < db.LatestVersion() {
		if _, err := db.Migrate(ctx, staged); err != nil {
			return fail(fmt.Errorf("upgrade %s from schema version %d: %w", src, want.SchemaVersion, err))
		}
	}
	got, err := db.Inspect(ctx, staged, true)
	if err != nil {
		return fail(fmt.Errorf("the staged copy of %s failed verification: %w", src, err))
	}
	if got.Files != want.Files || got.Deleted != want.Deleted || got.Hashes != want.Hashes {
		return fail(fmt.Errorf("the staged copy of %s failed verification: it holds %+v rows, the backup %+v", src, got.Counts, want.Counts))
	}
	if err := fsyncFile(staged); err != nil {
		return fail(err)
	}
	return staged, nil
}
