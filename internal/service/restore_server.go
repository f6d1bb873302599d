package service

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/uow"
)

// A shared catalog (PostgreSQL) is no file to swap: a restore replaces its
// rows, in one transaction, with those of a SQLite backup. The backup is
// checked as for a catalog file (checkSource), staged and upgraded to this
// schema, and the rows the catalog held are first saved, as a SQLite backup
// named <database>-<UTC time>-pre-restore.db beside the source: the catalog
// has no folder of its own.

// planServerRestore is PlanRestore for a PostgreSQL catalog at location.
func planServerRestore(ctx context.Context, location, src string, dbOpts db.Options, opts RestoreOptions, log *slog.Logger) (*RestorePlan, error) {
	abs, info, err := checkSource(ctx, src, "")
	if err != nil {
		return nil, err
	}
	var mtime time.Time
	if fi, err := os.Stat(abs); err == nil {
		mtime = fi.ModTime()
	}
	return &RestorePlan{Catalog: db.Redact(location), Source: backupDTO(info, mtime), src: abs, info: info,
		dbOpts: dbOpts, opts: opts, log: log, location: location}, nil
}

// runServer carries out a plan made by planServerRestore.
func (p *RestorePlan) runServer(ctx context.Context) (dto.Restore, error) {
	d, err := db.Open(ctx, p.location, p.dbOpts)
	if err != nil {
		return dto.Restore{}, err
	}
	c := New(d, p.log)
	defer c.Close()
	return c.restoreServer(ctx, p.src, p.info)
}

// restoreServer restores the shared catalog c from the backup src, which
// checkSource accepted with info.
func (c *Catalog) restoreServer(ctx context.Context, src string, info db.Info) (dto.Restore, error) {
	dir, err := os.MkdirTemp("", "indexer-restore-")
	if err != nil {
		return dto.Restore{}, fmt.Errorf("create staging directory: %w", err)
	}
	defer os.RemoveAll(dir)
	staged, err := stage(ctx, src, dir, info)
	if err != nil {
		return dto.Restore{}, err
	}
	var held int64
	err = c.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		counts, err := r.Files.Counts(ctx)
		held = counts.Files + counts.Deleted
		return err
	})
	if err != nil {
		return dto.Restore{}, err
	}
	in := &install{now: time.Now()}
	if held > 0 {
		snapshot := func(tmp string) (dto.Counts, error) { return c.db.BackupTo(ctx, tmp) }
		b, err := writeBackup(ctx, snapshot, backupDest{dir: filepath.Dir(src), prefix: backupPrefix(c.db.Path()),
			suffix: safetySuffix, mode: db.FileMode}, in.now)
		if err != nil {
			return dto.Restore{}, fmt.Errorf("save the catalog before restoring it: %w", err)
		}
		in.safety = b.Path
	}
	if _, err := c.db.RestoreFrom(ctx, staged, info.Counts); err != nil {
		return dto.Restore{}, err
	}
	// Whatever this process cached was read from the rows replaced.
	c.uow.Announce(dto.TagEpoch)
	return c.checkRestored(ctx, src, info, in)
}
