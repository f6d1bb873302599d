package service

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/repo"
	"github.com/indexer/indexer/internal/uow"
	"github.com/indexer/indexer/internal/walk"
)

// TrashDirName is the trash directory made at the mount point of a file
// system when no trash directory is given. Scans skip directories of this
// name.
const TrashDirName = ".indexer-trash"

// trashRun is the trash of one Apply: a directory named after the run in
// the trash directory of each file system met, and one manifest, a journal
// of JSON lines (dto.TrashEntry) in the first of them. An entry is written
// and synced before its file is moved, so a crash leaves no file in the
// trash that undo does not know of.
type trashRun struct {
	dir          string // the --trash directory, "" for each mount point's
	dryRun       bool
	id           string
	runs         map[uint64]string // device → this run's directory for its files
	cross        map[uint64]bool   // device → its run directory is on another file system
	manifest     *os.File
	manifestPath string
	n            int
}

func newTrashRun(dir string, dryRun bool) *trashRun {
	return &trashRun{dir: dir, dryRun: dryRun, runs: map[uint64]string{}, cross: map[uint64]bool{},
		id: time.Now().Format("20060102-150405") + fmt.Sprintf("-%d", os.Getpid())}
}

func (t *trashRun) close() {
	if t.manifest != nil {
		t.manifest.Close()
	}
}

// runDir returns this run's directory on the file system dev of path,
// making it (and the manifest) if needed, or a reason it cannot.
func (t *trashRun) runDir(path string, dev uint64) (string, string) {
	if d, ok := t.runs[dev]; ok {
		return d, ""
	}
	base := t.dir
	if base == "" {
		base = filepath.Join(mountPoint(filepath.Dir(path), dev), TrashDirName)
	}
	if !t.dryRun {
		if err := os.MkdirAll(base, 0o700); err != nil {
			return "", "cannot be moved to the trash: " + err.Error()
		}
	}
	// In a dry run the directory may not exist yet: its parent tells.
	probe := base
	for {
		if _, err := os.Lstat(probe); err == nil || filepath.Dir(probe) == probe {
			break
		}
		probe = filepath.Dir(probe)
	}
	st, err := walk.Follow(probe)
	if err != nil {
		return "", "cannot be moved to the trash: " + err.Error()
	}
	run := filepath.Join(base, t.id)
	t.cross[dev] = st.Device != dev
	if !t.dryRun {
		if err := os.Mkdir(run, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return "", "cannot be moved to the trash: " + err.Error()
		}
	}
	if t.manifestPath == "" {
		t.manifestPath = filepath.Join(run, "manifest.jsonl")
	}
	t.runs[dev] = run
	return run, ""
}

// journal appends e to the manifest and syncs it.
func (t *trashRun) journal(e dto.TrashEntry) error {
	if t.manifest == nil {
		f, err := os.OpenFile(t.manifestPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("create trash manifest: %w", err)
		}
		t.manifest = f
	}
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if _, err := t.manifest.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("write trash manifest %s: %w", t.manifestPath, err)
	}
	if err := t.manifest.Sync(); err != nil {
		return fmt.Errorf("write trash manifest %s: %w", t.manifestPath, err)
	}
	return nil
}

// mountPoint returns the highest directory above dir (or dir) on the file
// system dev.
func mountPoint(dir string, dev uint64) string {
	for {
		parent := filepath.Dir(dir)
		if parent == dir {
			return dir
		}
		st, err := walk.Lstat(parent)
		if err != nil || st.Device != dev {
			return dir
		}
		dir = parent
	}
}

// moveToTrash moves every name of the victim into this run's trash
// directory on its file system, journalling each move first.
func (a *applier) moveToTrash(g *dto.DedupeGroup, kept keptFile, cp *dto.DedupeCopy, victim keptFile) error {
	run, reason := a.trash.runDir(victim.path, victim.st.Device)
	if reason != "" {
		a.skipCopy(cp, reason)
		return nil
	}
	if a.trash.cross[victim.st.Device] {
		return a.copyToTrash(g, kept, cp, victim, run)
	}
	for i, n := range cp.Names {
		a.trash.n++
		dest := filepath.Join(run, fmt.Sprintf("%06d-%s", a.trash.n, filepath.Base(n.Path)))
		if !a.o.DryRun {
			if reason := recheck(n.Path, victim.st, i == 0); reason != "" {
				a.skipCopy(&dto.DedupeCopy{Names: cp.Names[i:]}, n.Path+" "+reason+" just before it was moved to the trash")
				return nil
			}
			e := dto.TrashEntry{Path: n.Path, Trash: dest, Device: victim.st.Device, Inode: victim.st.Inode,
				Size: victim.st.Size, MtimeNS: victim.st.MtimeNS, SHA256: g.SHA256, Kept: kept.path}
			if err := a.trash.journal(e); err != nil {
				return err
			}
			if err := renameNoReplace(n.Path, dest); err != nil {
				a.skipCopy(&dto.DedupeCopy{Names: cp.Names[i:]}, "cannot be moved to the trash: "+why(err))
				return nil
			}
			a.changes = append(a.changes, repo.DedupeChange{Path: n.Path, Gone: true})
		}
		a.rep.Applied++
		a.event(DedupeEvent{Action: ActionTrash, Path: n.Path, Kept: kept.path, Trash: dest})
	}
	a.rep.BytesReclaimed += g.Size
	return nil
}

// renameNoReplace renames oldpath to newpath, failing with EEXIST when
// newpath exists. Where the file system has no RENAME_NOREPLACE it links
// and unlinks, which refuses an existing newpath just as well.
func renameNoReplace(oldpath, newpath string) error {
	err := unix.Renameat2(unix.AT_FDCWD, oldpath, unix.AT_FDCWD, newpath, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		if err := os.Link(oldpath, newpath); err != nil {
			return err
		}
		return os.Remove(oldpath)
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	return nil
}

// UndoOptions control Undo.
type UndoOptions struct {
	// Machine is this machine, whose catalog rows are brought back.
	Machine string
	// OnEvent, when set, is called for each file restored ("restore") or
	// skipped ("skip").
	OnEvent func(DedupeEvent)
}

// Undo puts every file of a trash manifest back at its old path, making
// its directory again if needed. A file whose old path is taken again, or
// whose trash copy is gone or was replaced, is skipped and reported:
// nothing is ever overwritten. The catalog records the files restored as
// present again. Running it twice restores nothing the second time.
func (c *Catalog) Undo(ctx context.Context, manifest string, o UndoOptions) (dto.UndoReport, error) {
	rep := dto.UndoReport{Skipped: []dto.DedupeSkip{}}
	f, err := os.Open(manifest)
	if err != nil {
		return rep, fmt.Errorf("open trash manifest: %w", err)
	}
	defer f.Close()
	var entries []dto.TrashEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for line := 1; sc.Scan(); line++ {
		var e dto.TrashEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			// A crash while the last line was written leaves it cut
			// short; its file was never moved.
			if !sc.Scan() {
				break
			}
			return rep, fmt.Errorf("trash manifest %s, line %d: %w", manifest, line, err)
		}
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		return rep, fmt.Errorf("read trash manifest %s: %w", manifest, err)
	}
	skip := func(e dto.TrashEntry, reason string) {
		rep.Skipped = append(rep.Skipped, dto.DedupeSkip{Path: e.Path, Reason: reason})
		if o.OnEvent != nil {
			o.OnEvent(DedupeEvent{Action: "skip", Path: e.Path, Trash: e.Trash, Reason: reason})
		}
	}
	var changes []repo.DedupeChange
	for _, e := range entries {
		st, err := walk.Lstat(e.Trash)
		switch {
		case errors.Is(err, os.ErrNotExist):
			skip(e, "is not in the trash at "+e.Trash+" (restored already, or never moved)")
			continue
		case err != nil:
			skip(e, "cannot be restored: "+err.Error())
			continue
		case !st.IsRegular() || st.Device != e.Device || st.Inode != e.Inode:
			skip(e, "was replaced in the trash at "+e.Trash)
			continue
		}
		if _, err := os.Lstat(e.Path); err == nil {
			skip(e, "cannot be restored: something is at its old path now; move it away and run undo again")
			continue
		}
		if err := os.MkdirAll(filepath.Dir(e.Path), 0o755); err != nil {
			skip(e, "cannot be restored: "+err.Error())
			continue
		}
		err = renameNoReplace(e.Trash, e.Path)
		if errors.Is(err, unix.EXDEV) {
			// Trashed across file systems: copied back the same way.
			err = copyBack(e.Trash, st, e.Path)
		}
		if err != nil {
			if errors.Is(err, os.ErrExist) {
				skip(e, "cannot be restored: something is at its old path now; move it away and run undo again")
			} else {
				skip(e, "cannot be restored: "+why(err))
			}
			continue
		}
		rep.Restored++
		if o.OnEvent != nil {
			o.OnEvent(DedupeEvent{Action: "restore", Path: e.Path, Trash: e.Trash})
		}
		if st, err := walk.Lstat(e.Path); err == nil {
			changes = append(changes, repo.DedupeChange{Path: e.Path, Validators: st.Validators, Modified: st.Modified, Present: true})
		}
	}
	if len(changes) == 0 {
		return rep, nil
	}
	err = c.uow.Do(ctx, "dedupe undo", func(ctx context.Context, r *uow.Repos) error {
		return recordDedupe(ctx, r, o.Machine, changes)
	})
	return rep, err
}
