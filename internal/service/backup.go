package service

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
)

// ErrBackupExists is returned by Backup when the destination exists and force
// is not set.
var ErrBackupExists = errors.New("backup file already exists")

// backupStamp is the UTC time in backup names: index-20261122T030405Z.db.
const backupStamp = "20060102T150405Z"

// safetySuffix marks the backup Restore takes of the catalog it replaces.
const safetySuffix = "-pre-restore"

// Raw copies of a file at the catalog path that could not be read as a
// catalog carry one of these suffixes, after what was wrong with it.
const (
	damagedSuffix     = "-damaged"
	newerSchemaSuffix = "-newer-schema"
	notCatalogSuffix  = "-not-a-catalog"
)

// beforeInstall, when set by a test, runs inside Restore's swap just before
// the side files are removed and the staged copy is moved over the catalog.
var beforeInstall func(catalogPath string)

// BackupDir returns the directory that holds the backups of the catalog at
// catalogPath: "backups" beside it.
func BackupDir(catalogPath string) string {
	return filepath.Join(filepath.Dir(catalogPath), "backups")
}

// backupPrefix is what the names of the catalog's backups start with: the
// catalog's file name without extension, and a dash; for a PostgreSQL
// catalog, its database's name.
func backupPrefix(catalogPath string) string {
	if db.IsPostgres(catalogPath) {
		if u, err := url.Parse(catalogPath); err == nil && strings.Trim(u.Path, "/") != "" {
			return filepath.Base(strings.Trim(u.Path, "/")) + "-"
		}
		return "postgres-"
	}
	base := filepath.Base(catalogPath)
	return strings.TrimSuffix(base, filepath.Ext(base)) + "-"
}

// backupName matches the name of a backup of the catalog at catalogPath, as
// publishNew makes them: prefix, UTC time, an optional -N, an optional
// suffix, ".db". Nothing else does, so that catalogs sharing a directory keep
// their backups apart even when one's name starts with the other's
// (index.db and index-old.db).
func backupName(catalogPath string) *regexp.Regexp {
	suffixes := []string{safetySuffix, damagedSuffix, newerSchemaSuffix, notCatalogSuffix}
	for i, s := range suffixes {
		suffixes[i] = regexp.QuoteMeta(s)
	}
	return regexp.MustCompile(`^` + regexp.QuoteMeta(backupPrefix(catalogPath)) +
		`[0-9]{8}T[0-9]{6}Z(-[0-9]+)?(` + strings.Join(suffixes, "|") + `)?\.db$`)
}

// Backup writes a verified snapshot of the catalog to dst. An empty dst means
// a new file in BackupDir named after the catalog and the UTC time; a dst that
// is a directory gets such a name inside it. The snapshot goes to a temporary
// file beside dst, is fsynced, checked (integrity_check, schema version, row
// counts equal to the snapshot's) and only then renamed into place, and the
// directory is fsynced. An existing dst is replaced only with force; without
// it the error matches ErrBackupExists. Writers carry on during a backup.
func (c *Catalog) Backup(ctx context.Context, dst string, force bool) (dto.Backup, error) {
	snapshot := func(tmp string) (dto.Counts, error) { return c.db.BackupTo(ctx, tmp) }
	now := time.Now()
	mode := fileMode(c.db.Path())
	if dst == "" && c.db.Dialect().Shared {
		return dto.Backup{}, fmt.Errorf("a PostgreSQL catalog has no folder of its own for backups: name the backup file or a folder for it")
	}
	if dst == "" {
		dir := BackupDir(c.db.Path())
		if err := os.MkdirAll(dir, db.DirMode); err != nil {
			return dto.Backup{}, fmt.Errorf("create backup directory: %w", err)
		}
		return writeBackup(ctx, snapshot, backupDest{dir: dir, prefix: backupPrefix(c.db.Path()), mode: mode}, now)
	}
	abs, err := filepath.Abs(dst)
	if err != nil {
		return dto.Backup{}, fmt.Errorf("resolve backup path %s: %w", dst, err)
	}
	fi, err := os.Stat(abs)
	switch {
	case err == nil && fi.IsDir():
		return writeBackup(ctx, snapshot, backupDest{dir: abs, prefix: backupPrefix(c.db.Path()), mode: mode}, now)
	case err == nil && !fi.Mode().IsRegular():
		return dto.Backup{}, fmt.Errorf("cannot back up to %s: it is %s, not a regular file", abs, db.FileKind(fi.Mode()))
	}
	if own, ok, err := db.OwnFile(c.db.Path(), abs); err != nil {
		return dto.Backup{}, fmt.Errorf("cannot back up to %s: %w", abs, err)
	} else if ok {
		return dto.Backup{}, fmt.Errorf("cannot back up to %s: it is the catalog's own file %s", abs, own)
	}
	return writeBackup(ctx, snapshot, backupDest{dir: filepath.Dir(abs), name: abs, force: force, mode: mode}, now)
}

// backupDest says where writeBackup puts a backup: at name (replacing an
// existing file only with force), or, when name is empty, under the first
// free name prefix+stamp[-N]+suffix+".db" in dir.
type backupDest struct {
	dir, name      string
	prefix, suffix string
	force          bool
	// mode is the new file's permissions: the catalog's.
	mode fs.FileMode
	// older accepts a copy of an older schema: a safety copy keeps the
	// replaced catalog as it was, not upgraded.
	older bool
}

// writeBackup runs snapshot into a temporary file in dest.dir, fsyncs and
// verifies it, and publishes it as dest says.
func writeBackup(ctx context.Context, snapshot func(tmp string) (dto.Counts, error), dest backupDest, now time.Time) (dto.Backup, error) {
	f, err := os.CreateTemp(dest.dir, ".indexer-backup-*.tmp")
	if err != nil {
		return dto.Backup{}, fmt.Errorf("create temporary backup file: %w", err)
	}
	tmp := f.Name()
	f.Close()
	if err := os.Chmod(tmp, dest.mode); err != nil {
		removeDB(tmp)
		return dto.Backup{}, fmt.Errorf("create temporary backup file: %w", err)
	}
	published := false
	defer func() {
		if !published {
			removeDB(tmp)
		}
	}()
	want, err := snapshot(tmp)
	if err != nil {
		return dto.Backup{}, err
	}
	if err := fsyncFile(tmp); err != nil {
		return dto.Backup{}, err
	}
	info, err := db.Inspect(ctx, tmp, true)
	if err != nil {
		return dto.Backup{}, fmt.Errorf("the backup written to %s failed verification: %w", tmp, err)
	}
	if info.Counts != want {
		return dto.Backup{}, fmt.Errorf("the backup written to %s failed verification: it holds %+v rows, the snapshot had %+v", tmp, info.Counts, want)
	}
	if v := info.SchemaVersion; v != db.LatestVersion() && !(dest.older && v < db.LatestVersion()) {
		return dto.Backup{}, fmt.Errorf("the backup written to %s failed verification: schema version %d, want %d", tmp, info.SchemaVersion, db.LatestVersion())
	}

	name := dest.name
	if name != "" {
		if err := publish(tmp, name, dest.force); err != nil {
			return dto.Backup{}, err
		}
	} else if name, err = publishNew(tmp, dest, now); err != nil {
		return dto.Backup{}, err
	}
	published = true
	if err := fsyncDir(filepath.Dir(name)); err != nil {
		return dto.Backup{}, err
	}
	info.Path = name
	return backupDTO(info, now), nil
}

// publishNew moves tmp to the first free name prefix+stamp[-N]+suffix+".db"
// in dest.dir and returns it.
func publishNew(tmp string, dest backupDest, now time.Time) (string, error) {
	for n := 1; ; n++ {
		name := filepath.Join(dest.dir, dest.prefix+now.UTC().Format(backupStamp))
		if n > 1 {
			name += "-" + strconv.Itoa(n)
		}
		name += dest.suffix + ".db"
		err := publish(tmp, name, false)
		if err == nil {
			return name, nil
		}
		if !errors.Is(err, ErrBackupExists) || n >= 1000 {
			return "", err
		}
	}
}

// publish moves tmp to name. Without force it never replaces an existing
// file, even one created a moment ago by another backup: a hard link fails
// if name exists, where a rename would not.
func publish(tmp, name string, force bool) error {
	if force {
		if err := os.Rename(tmp, name); err != nil {
			return fmt.Errorf("move backup into place: %w", err)
		}
		return nil
	}
	exists := fmt.Errorf("%w: %s; pass --force to overwrite it", ErrBackupExists, name)
	err := os.Link(tmp, name)
	if errors.Is(err, fs.ErrExist) {
		return exists
	}
	if err != nil {
		// A file system without hard links: check, then rename.
		if _, serr := os.Lstat(name); serr == nil {
			return exists
		}
		if err := os.Rename(tmp, name); err != nil {
			return fmt.Errorf("move backup into place: %w", err)
		}
		return nil
	}
	return os.Remove(tmp)
}

// ListBackups describes the backups of the catalog at catalogPath (resolved
// by db.CatalogPath) found in BackupDir, oldest first. Integrity is not checked, to keep listing cheap; a
// file that cannot be read is listed with its Error.
func ListBackups(ctx context.Context, catalogPath string) ([]dto.Backup, error) {
	abs, err := db.CatalogPath(catalogPath)
	if err != nil {
		return nil, err
	}
	dir, prefix, pattern := BackupDir(abs), backupPrefix(abs), backupName(abs)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return []dto.Backup{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list backups: %w", err)
	}
	out := []dto.Backup{}
	mtimes := map[string]time.Time{}
	for _, e := range entries {
		n := e.Name()
		if !e.Type().IsRegular() || !pattern.MatchString(n) {
			continue
		}
		p := filepath.Join(dir, n)
		info, err := db.Inspect(ctx, p, false)
		info.Path = p
		b := backupDTO(info, time.Time{})
		if err != nil {
			b.Error = err.Error()
		}
		if fi, err := e.Info(); err == nil {
			mtimes[p] = fi.ModTime()
			b.Time = fi.ModTime().UTC().Truncate(time.Second)
		}
		stamp := strings.TrimPrefix(n, prefix)
		if t, err := time.Parse(backupStamp, stamp[:min(len(stamp), len(backupStamp))]); err == nil {
			b.Time = t
		}
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.Before(out[j].Time)
		}
		// Names tell the second; the files' times tell backups of one second apart.
		if mi, mj := mtimes[out[i].Path], mtimes[out[j].Path]; !mi.Equal(mj) {
			return mi.Before(mj)
		}
		return out[i].Path < out[j].Path
	})
	return out, nil
}

func backupDTO(info db.Info, t time.Time) dto.Backup {
	if !t.IsZero() {
		t = t.UTC().Truncate(time.Second)
	}
	return dto.Backup{Path: info.Path, Time: t, Bytes: info.Bytes, Files: info.Files, Deleted: info.Deleted,
		Hashes: info.Hashes, SchemaVersion: info.SchemaVersion, Integrity: info.Integrity}
}

// removeDB removes a database file this package created and the rollback
// journal SQLite may have left beside it.
func removeDB(path string) {
	_ = os.Remove(path)
	_ = os.Remove(path + "-journal")
}

// fileMode returns the permissions of the file at path, or db.FileMode (what
// a new catalog gets) when it cannot be read.
func fileMode(path string) fs.FileMode {
	if fi, err := os.Stat(path); err == nil {
		return fi.Mode().Perm()
	}
	return db.FileMode
}

func fsyncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("fsync %s: %w", path, err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync %s: %w", path, err)
	}
	return nil
}

func fsyncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}
