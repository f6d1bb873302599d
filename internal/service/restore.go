package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/uow"
)

// RestoreOptions tune Restore and PlanRestore.
type RestoreOptions struct {
	// Wait makes Restore wait, until ctx is done, for other processes that hold
	// the catalog (a running scan) instead of failing with db.ErrInUse.
	Wait bool
	// OnWait, if set, is called once when Restore starts waiting.
	OnWait func()
	// Force lets a restore replace an SQLite database of another program found
	// at the catalog path (a raw copy of it is kept). Without it such a file is
	// refused: a mistyped --db is a likelier cause than a catalog that turned
	// into another program's database.
	Force bool
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
// A catalog that opened but turns out damaged when it is saved (the verified
// copy fails its integrity check) is kept as a raw byte copy instead, and the
// result says Damaged.
//
// Until the rename, a failure leaves the catalog's bytes unchanged and removes
// the staged file. When another process holds the catalog and opts.Wait is
// false, the error matches db.ErrInUse.
func (c *Catalog) Restore(ctx context.Context, src string, opts RestoreOptions) (dto.Restore, error) {
	src, info, err := checkSource(ctx, src, c.db.Path())
	if err != nil {
		return dto.Restore{}, err
	}
	return c.restoreChecked(ctx, src, info, opts)
}

// restoreChecked is Restore from a source checkSource accepted.
func (c *Catalog) restoreChecked(ctx context.Context, src string, info db.Info, opts RestoreOptions) (dto.Restore, error) {
	cat := c.db.Path()
	staged, err := stage(ctx, src, filepath.Dir(cat), info)
	if err != nil {
		return dto.Restore{}, err
	}
	defer removeDB(staged) // a no-op once it is renamed over the catalog

	in := &install{staged: staged, force: opts.Force, now: time.Now()}
	err = withWait(opts, c.log, cat, func(wait bool) error { return c.db.Replace(ctx, wait, in.swap(ctx)) })
	if in.swapped {
		// Whatever this process cached was read from the file replaced.
		c.uow.Announce(dto.TagEpoch)
	}
	if err != nil {
		return dto.Restore{}, in.note(fmt.Errorf("restore %s from %s: %w", cat, src, err))
	}
	return c.checkRestored(ctx, src, info, in)
}

// RestorePlan is a restore that has been checked and not yet run: the backup
// is sound, and what lies at the catalog path is known. PlanRestore makes one
// without changing anything, so that a user can be asked to confirm what will
// happen; Run carries it out.
//
// Unlike Catalog.Restore it does not need the catalog to open: it is how a
// damaged catalog, or a missing one, is restored.
type RestorePlan struct {
	// Catalog is the catalog's absolute path.
	Catalog string
	// Source describes the backup, which passed integrity_check.
	Source dto.Backup
	// Missing is true when there is no catalog file: Run creates it from the
	// backup and has nothing to save.
	Missing bool
	// Problem, when not nil, says why the file at the catalog path cannot be
	// used as a catalog, in a sentence such as "it is truncated: …". It matches
	// db.ErrCorrupt, db.ErrNotDatabase, db.ErrSchemaTooNew or (with Force)
	// db.ErrNotCatalog. Run then keeps a raw copy of the file, not a verified
	// backup. Damage that only integrity_check finds is found by Run, and
	// reported in its result.
	Problem error

	src    string
	info   db.Info
	dbOpts db.Options
	opts   RestoreOptions
	log    *slog.Logger
	// location is a PostgreSQL catalog's URL (see restore_server.go); ""
	// for a catalog file.
	location string
}

// PlanRestore checks a restore of the catalog at catalogPath from the backup
// at src, touching neither. src is checked fully: it must be an indexer
// catalog of this or an older schema version that passes integrity_check, and
// not the catalog itself. The catalog file is looked at without SQLite writing
// to it or creating anything beside it.
//
// The catalog path is resolved by db.CatalogPath: through a symlink, the file
// it points to is restored. A catalog path that names a directory, a device,
// a FIFO or a socket is refused, with an error naming it, and so, unless opts.Force, one holding another program's SQLite
// database (the error matches db.ErrNotCatalog). dbOpts and log are used when
// the plan runs.
func PlanRestore(ctx context.Context, catalogPath, src string, dbOpts db.Options, opts RestoreOptions, log *slog.Logger) (*RestorePlan, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if db.IsPostgres(catalogPath) {
		return planServerRestore(ctx, catalogPath, src, dbOpts, opts, log)
	}
	cat, err := db.CatalogPath(catalogPath)
	if err != nil {
		return nil, err
	}
	src, info, err := checkSource(ctx, src, cat)
	if err != nil {
		return nil, err
	}
	var mtime time.Time
	if fi, err := os.Stat(src); err == nil {
		mtime = fi.ModTime()
	}
	p := &RestorePlan{Catalog: cat, Source: backupDTO(info, mtime), src: src, info: info, dbOpts: dbOpts, opts: opts, log: log}
	fi, err := os.Stat(cat)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		p.Missing = true
		return p, nil
	case err != nil:
		return nil, fmt.Errorf("cannot restore over %s: it cannot be read: %w", cat, err)
	case fi.Size() == 0:
		// SQLite takes an empty file for an empty database: it opens, and
		// holds nothing to save.
		return p, nil
	}
	// Inspect reads the file as immutable. A live catalog that a scan is
	// writing to has a -wal with content and is reported as ErrPendingLog
	// before anything is read, so a healthy catalog is not mistaken for a
	// damaged one; Run decides again under the lock in any case.
	_, err = db.Inspect(ctx, cat, false)
	switch {
	case errors.Is(err, db.ErrNotCatalog) && !opts.Force:
		return nil, notCatalogError(cat, err)
	case unusable(err):
		p.Problem = err
	}
	return p, nil
}

// Run carries out the plan and returns what was restored. A catalog with no
// Problem is opened and restored as Catalog.Restore does. A damaged one, one
// that fails to open because it is damaged, of a newer schema, cannot be
// upgraded (db.ErrUpgrade) or is (with Force) another program's, and a
// missing one are restored without opening them
// (db.ReplaceFile): holding the same lock, a raw byte copy of the file and of
// any -wal or -journal beside it is saved in BackupDir as
// <name>-<UTC time>-damaged.db (-newer-schema.db, -not-a-catalog.db), fsynced;
// then the staged backup is moved in as Restore does, and the catalog is
// opened and its counts compared with the backup's.
//
// The backup is copied and checked again before the catalog is touched. Until
// the rename a failure leaves the catalog's bytes unchanged. When another
// process holds the catalog and Wait is not set, the error matches
// db.ErrInUse. Other failures to open the catalog (another program holds a
// lock on it, permissions) are returned as they are.
func (p *RestorePlan) Run(ctx context.Context) (dto.Restore, error) {
	if p.location != "" {
		return p.runServer(ctx)
	}
	// A catalog found damaged without opening it is never opened: SQLite
	// could write to it, and the raw copy must hold its bytes as they were.
	var known error // why the catalog is restored without opening it
	if !p.Missing && p.Problem == nil {
		opts := p.dbOpts
		opts.MustExist = true
		d, err := db.Open(ctx, p.Catalog, opts)
		switch {
		case err == nil:
			c := New(d, p.log)
			defer c.Close()
			return c.restoreChecked(ctx, p.src, p.info, p.opts)
		case errors.Is(err, db.ErrNotExist):
			// Removed since the plan was made: create it.
		case !unusable(err) && !db.IsCorrupt(err):
			return dto.Restore{}, err
		default:
			known = err
		}
	}
	if known == nil {
		known = p.Problem
	}
	if err := os.MkdirAll(filepath.Dir(p.Catalog), db.DirMode); err != nil {
		return dto.Restore{}, fmt.Errorf("create catalog directory: %w", err)
	}
	staged, err := stage(ctx, p.src, filepath.Dir(p.Catalog), p.info)
	if err != nil {
		return dto.Restore{}, err
	}
	defer removeDB(staged)

	in := &install{staged: staged, force: p.opts.Force, unopened: true, known: known, now: time.Now()}
	var d *db.DB
	err = withWait(p.opts, p.log, p.Catalog, func(wait bool) error {
		var err error
		d, err = db.ReplaceFile(ctx, p.Catalog, p.dbOpts, wait, in.swap(ctx))
		return err
	})
	if err != nil {
		return dto.Restore{}, in.note(fmt.Errorf("restore %s from %s: %w", p.Catalog, p.src, err))
	}
	c := New(d, p.log)
	defer c.Close()
	return c.checkRestored(ctx, p.src, p.info, in)
}

// withWait runs replace without waiting and, if another process holds the
// catalog and opts.Wait is set, again waiting for it.
func withWait(opts RestoreOptions, log *slog.Logger, cat string, replace func(wait bool) error) error {
	err := replace(false)
	if errors.Is(err, db.ErrInUse) && opts.Wait {
		log.Info("waiting for other indexer processes to release the catalog", "catalog", cat)
		if opts.OnWait != nil {
			opts.OnWait()
		}
		err = replace(true)
	}
	return err
}

// checkSource resolves src and checks it fully: an indexer catalog of this or
// an older schema version that passes integrity_check, and not the catalog at
// cat itself ("" for a PostgreSQL catalog). Its errors read "cannot restore
// from SRC: cause".
func checkSource(ctx context.Context, src, cat string) (string, db.Info, error) {
	abs, err := filepath.Abs(src)
	if err != nil {
		return "", db.Info{}, fmt.Errorf("resolve %s: %w", src, err)
	}
	if cat == "" {
		// A PostgreSQL catalog has no file that src could be.
	} else if own, ok, err := db.OwnFile(cat, abs); err != nil {
		return "", db.Info{}, fmt.Errorf("cannot restore from %s: %w", abs, err)
	} else if ok {
		return "", db.Info{}, fmt.Errorf("cannot restore from %s: it is the catalog's own file %s", abs, own)
	}
	info, err := db.Inspect(ctx, abs, true)
	if err != nil {
		return "", db.Info{}, fmt.Errorf("cannot restore from %s: %w", abs, err)
	}
	return abs, info, nil
}

// checkRestored reads the restored catalog's counts through c's unit of work,
// the way every other holder of it will, compares them with the backup's and
// reports the restore.
func (c *Catalog) checkRestored(ctx context.Context, src string, want db.Info, in *install) (dto.Restore, error) {
	cat := c.db.Path()
	var files, deleted, hashes int64
	err := c.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		counts, err := r.Files.Counts(ctx)
		files, deleted, hashes = counts.Files, counts.Deleted, counts.Hashes
		return err
	})
	if err == nil && (files != want.Files || deleted != want.Deleted || hashes != want.Hashes) {
		err = fmt.Errorf("it holds %d files, %d deleted and %d hashes, but the backup holds %d, %d and %d",
			files, deleted, hashes, want.Files, want.Deleted, want.Hashes)
	}
	if err != nil {
		return dto.Restore{}, in.note(fmt.Errorf("the restored catalog %s failed verification: %w", cat, err))
	}
	version, err := c.db.Version(ctx)
	if err != nil {
		return dto.Restore{}, fmt.Errorf("read restored schema version: %w", err)
	}
	res := dto.Restore{Catalog: cat, RestoredFrom: src, Files: files, Deleted: deleted, Hashes: hashes,
		SchemaVersion: version, SafetyBackup: in.safety, SafetyLogs: in.logs, Created: in.created}
	if in.problem != nil {
		res.Damaged, res.Problem = true, in.problem.Error()
	}
	c.log.Info("restored catalog", "catalog", cat, "from", src, "files", files, "hashes", hashes,
		"safety_backup", in.safety, "damaged", res.Damaged, "created", in.created)
	return res, nil
}

// install is a restore's swap: run while the catalog is held exclusively and
// no connection to it is open, it saves what lies at the catalog path and
// moves the staged copy over it. It records what it did for the report.
type install struct {
	staged string
	// force lets it replace another program's database.
	force bool
	// unopened is set on the lock-only path (db.ReplaceFile): the catalog was
	// not open in this process, so a log beside it is its own (left by a
	// crash), to be saved with it, not a sign that another program has the file
	// open.
	unopened bool
	// known is why the catalog could not be opened, if it could not.
	known error
	now   time.Time

	safety  string   // where the replaced file was saved
	logs    []string // where its logs were saved
	problem error    // why the replaced file could not be used; nil if it could
	created bool     // there was no file
	swapped bool     // the staged file was moved over the catalog
}

func (in *install) swap(ctx context.Context) func(path string) error {
	return func(path string) error { return in.run(ctx, path) }
}

func (in *install) run(ctx context.Context, path string) error {
	in.safety, in.logs, in.problem, in.created = "", nil, nil, false
	mode := fileMode(path)
	// No indexer process has the catalog open, so the file on disk is exactly
	// what is about to be replaced.
	cur, err := db.Inspect(ctx, path, false)
	var problem error
	switch {
	case errors.Is(err, fs.ErrNotExist):
		in.created = true
	case isEmptyFile(path):
		// An empty file is an empty catalog: nothing to save.
	case errors.Is(err, db.ErrPendingLog) && !in.unopened:
		// Closing the last connection removes the WAL; it is still there, so
		// a program other than indexer has the catalog open.
		return fmt.Errorf("the catalog %s still has a write-ahead log after indexer closed it, so another program has it open; close that program and try again: %w", path, err)
	case errors.Is(err, db.ErrPendingLog):
		problem = err
		if in.known != nil {
			problem = in.known
		}
	case unusable(err):
		problem = err
	case err != nil:
		return fmt.Errorf("read the current catalog %s: %w", path, err)
	case !cur.Empty():
		dir, err := safetyDir(path)
		if err != nil {
			return err
		}
		b, err := writeBackup(ctx, func(tmp string) (dto.Counts, error) { return db.CopyFile(ctx, path, tmp) },
			backupDest{dir: dir, prefix: backupPrefix(path), suffix: safetySuffix, mode: mode, older: true}, in.now)
		if err == nil {
			in.safety = b.Path
			break
		}
		// A catalog can open and count its rows and still be damaged where
		// only integrity_check looks: then its copy fails verification, and a
		// raw copy is all that can be kept.
		if _, ierr := db.Inspect(ctx, path, true); unusable(ierr) {
			problem = ierr
		} else {
			return fmt.Errorf("save the current catalog before restoring: %w", err)
		}
	}
	if problem != nil {
		if errors.Is(problem, db.ErrNotCatalog) && !in.force {
			return notCatalogError(path, problem)
		}
		if err := in.saveRaw(path, problem, mode); err != nil {
			return fmt.Errorf("save a copy of the current catalog before restoring: %w", err)
		}
	}

	if beforeInstall != nil {
		beforeInstall(path)
	}
	for _, side := range []string{"-wal", "-shm", "-journal"} {
		if err := os.Remove(path + side); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove the old %s: %w", side, err)
		}
	}
	if err := os.Chmod(in.staged, mode); err != nil {
		return fmt.Errorf("set the restored catalog's permissions: %w", err)
	}
	if err := os.Rename(in.staged, path); err != nil {
		return fmt.Errorf("move the restored catalog into place: %w", err)
	}
	in.swapped = true
	return fsyncDir(filepath.Dir(path))
}

// saveRaw keeps a byte-for-byte copy of the file at path, which cannot be read
// as a catalog, in BackupDir as <name>-<UTC time><suffix>.db, the suffix
// naming the problem; each non-empty -wal or -journal beside it is copied
// under that name plus its own suffix, where SQLite looks for it. The copies
// and the directory are fsynced. The copies are not checked: a damaged file
// has nothing to check them against but its size.
func (in *install) saveRaw(path string, problem error, mode fs.FileMode) error {
	dir, err := safetyDir(path)
	if err != nil {
		return err
	}
	var tmps []string
	defer func() {
		for _, t := range tmps {
			_ = os.Remove(t) // a no-op for those published
		}
	}()
	main, err := rawCopy(path, dir, mode)
	if err != nil {
		return err
	}
	tmps = append(tmps, main)
	type sideCopy struct{ side, tmp string }
	var logs []sideCopy
	for _, side := range []string{"-wal", "-journal"} {
		fi, err := os.Stat(path + side)
		if errors.Is(err, fs.ErrNotExist) || (err == nil && fi.Size() == 0) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", path+side, err)
		}
		tmp, err := rawCopy(path+side, dir, mode)
		if err != nil {
			return err
		}
		tmps = append(tmps, tmp)
		logs = append(logs, sideCopy{side, tmp})
	}
	name, err := publishNew(main, backupDest{dir: dir, prefix: backupPrefix(path), suffix: rawSuffix(problem)}, in.now)
	if err != nil {
		return err
	}
	in.safety, in.problem = name, problem
	for _, l := range logs {
		if err := os.Rename(l.tmp, name+l.side); err != nil {
			return fmt.Errorf("move the copy of %s into place: %w", path+l.side, err)
		}
		in.logs = append(in.logs, name+l.side)
	}
	return fsyncDir(dir)
}

// rawCopy copies the file at src into a new temporary file in dir with mode,
// fsyncs it and returns its name. The file must not change meanwhile.
func rawCopy(src, dir string, mode fs.FileMode) (tmp string, err error) {
	in, err := os.Open(src)
	if err != nil {
		return "", fmt.Errorf("copy %s: %w", src, err)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return "", fmt.Errorf("copy %s: %w", src, err)
	}
	out, err := os.CreateTemp(dir, ".indexer-backup-*.tmp")
	if err != nil {
		return "", fmt.Errorf("copy %s: %w", src, err)
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(out.Name())
		}
	}()
	n, err := io.Copy(out, in)
	if err != nil {
		return "", fmt.Errorf("copy %s to %s: %w", src, out.Name(), err)
	}
	if n != fi.Size() {
		return "", fmt.Errorf("copy %s: it changed while it was copied (%d bytes, then %d)", src, fi.Size(), n)
	}
	if err := out.Chmod(mode); err != nil {
		return "", fmt.Errorf("copy %s: %w", src, err)
	}
	if err := out.Sync(); err != nil {
		return "", fmt.Errorf("fsync %s: %w", out.Name(), err)
	}
	if err := out.Close(); err != nil {
		return "", fmt.Errorf("copy %s to %s: %w", src, out.Name(), err)
	}
	return out.Name(), nil
}

// note adds to err where the replaced file was saved, if it was.
func (in *install) note(err error) error {
	switch {
	case in.safety == "":
		return err
	case in.problem != nil:
		return fmt.Errorf("%w (a raw copy of the file that was there is saved at %s)", err, in.safety)
	default:
		return fmt.Errorf("%w (the catalog as it was is saved at %s)", err, in.safety)
	}
}

// unusable reports whether err, from db.Inspect or db.Open of a catalog file,
// says that the file cannot be used as a catalog as it is.
func unusable(err error) bool {
	return errors.Is(err, db.ErrCorrupt) || errors.Is(err, db.ErrNotDatabase) ||
		errors.Is(err, db.ErrSchemaTooNew) || errors.Is(err, db.ErrNotCatalog) ||
		errors.Is(err, db.ErrUpgrade)
}

func rawSuffix(problem error) string {
	switch {
	case errors.Is(problem, db.ErrSchemaTooNew):
		return newerSchemaSuffix
	case errors.Is(problem, db.ErrNotCatalog):
		return notCatalogSuffix
	default:
		return damagedSuffix
	}
}

func notCatalogError(cat string, err error) error {
	return fmt.Errorf("cannot restore over %s: %w; check --db, or pass --force to replace it (a copy of it is kept in %s)", cat, err, BackupDir(cat))
}

// safetyDir creates BackupDir for the catalog at path and returns it.
func safetyDir(path string) (string, error) {
	dir := BackupDir(path)
	if err := os.MkdirAll(dir, db.DirMode); err != nil {
		return "", fmt.Errorf("create backup directory: %w", err)
	}
	return dir, nil
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

// isEmptyFile reports whether path is a regular file of no bytes.
func isEmptyFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Size() == 0
}
