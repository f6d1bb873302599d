package service

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/repo"
	"github.com/indexer/indexer/internal/walk"
)

// copyToTrash moves the victim into a trash directory on another file
// system: its bytes are copied under a temporary name in the run
// directory, synced, read again and compared with the victim, then renamed
// to their trash name and journalled; only then, the victim unchanged, is
// it unlinked. A crash leaves the victim in place (and at worst a copy in
// the trash, journalled or named .indexer-partial-…), never neither. A copy
// with several names is skipped: its hard-link set could not come back
// whole.
func (a *applier) copyToTrash(g *dto.DedupeGroup, kept keptFile, cp *dto.DedupeCopy, victim keptFile, run string) error {
	if len(cp.Names) > 1 {
		a.skipCopy(cp, fmt.Sprintf("has %d names and the trash directory %s is on another file system: a hard-link set cannot be copied there whole", len(cp.Names), run))
		return nil
	}
	a.trash.n++
	dest := filepath.Join(run, fmt.Sprintf("%06d-%s", a.trash.n, filepath.Base(victim.path)))
	if a.o.DryRun {
		a.rep.Applied++
		a.rep.BytesReclaimed += g.Size
		a.event(DedupeEvent{Action: ActionTrash, Path: victim.path, Kept: kept.path, Trash: dest, Note: "copied: the trash is on another file system"})
		return nil
	}
	tmp := filepath.Join(run, ".indexer-partial-"+filepath.Base(dest))
	copied, reason := copyVerified(victim, tmp)
	if reason != "" {
		_ = os.Remove(tmp)
		a.skipCopy(cp, victim.path+" cannot be copied to the trash: "+reason)
		return nil
	}
	if err := renameNoReplace(tmp, dest); err != nil {
		_ = os.Remove(tmp)
		a.skipCopy(cp, "cannot be moved to the trash: "+why(err))
		return nil
	}
	if d, err := os.Open(run); err == nil {
		_ = d.Sync()
		d.Close()
	}
	e := dto.TrashEntry{Path: victim.path, Trash: dest, Device: copied.Device, Inode: copied.Inode,
		Size: copied.Size, MtimeNS: copied.MtimeNS, SHA256: g.SHA256, Kept: kept.path}
	if err := a.trash.journal(e); err != nil {
		_ = os.Remove(dest)
		return err
	}
	if reason := recheck(victim.path, victim.st, true); reason != "" {
		// The copy stays journalled in the trash; undo will find the old
		// path taken and leave it there.
		a.skipCopy(cp, victim.path+" "+reason+" just before it was removed; its copy stays in the trash at "+dest)
		return nil
	}
	if err := os.Remove(victim.path); err != nil {
		a.skipCopy(cp, "cannot be removed after it was copied to the trash: "+why(err))
		return nil
	}
	a.changes = append(a.changes, repo.DedupeChange{Path: victim.path, Gone: true})
	a.rep.Applied++
	a.rep.BytesReclaimed += g.Size
	a.event(DedupeEvent{Action: ActionTrash, Path: victim.path, Kept: kept.path, Trash: dest, Note: "copied: the trash is on another file system"})
	return nil
}

// copyVerified copies src, a verified file, to dst (which must not exist)
// with its mode and times, syncs it, then reads both again and compares
// them. It returns dst's stat, or a reason.
func copyVerified(src keptFile, dst string) (walk.Stat, string) {
	in, reason := openVerified(src)
	if reason != "" {
		return walk.Stat{}, reason
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return walk.Stat{}, why(err)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return walk.Stat{}, why(err)
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return walk.Stat{}, why(err)
	}
	mt := fi.ModTime()
	if err := os.Chtimes(dst, mt, mt); err != nil {
		return walk.Stat{}, why(err)
	}
	st, err := walk.Lstat(dst)
	if err != nil {
		return walk.Stat{}, why(err)
	}
	if reason := sameContent(keptFile{path: dst, st: st}, src); reason != "" {
		return walk.Stat{}, "the copy does not read back equal: " + reason
	}
	return st, ""
}

// copyBack restores a trashed file across file systems: copied beside
// path under a temporary name, synced and compared, then linked to path
// (which fails if anything is there), and the trash copy removed.
func copyBack(trash string, st walk.Stat, path string) error {
	tmp := tempName(filepath.Dir(path))
	if _, reason := copyVerified(keptFile{path: trash, st: st}, tmp); reason != "" {
		_ = os.Remove(tmp)
		return fmt.Errorf("copy back from the trash: %s", reason)
	}
	if err := os.Link(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Remove(tmp); err != nil {
		return err
	}
	return os.Remove(trash)
}
