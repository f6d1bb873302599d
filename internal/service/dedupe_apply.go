package service

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/repo"
	"github.com/indexer/indexer/internal/uow"
	"github.com/indexer/indexer/internal/walk"
)

// ApplyOptions control Apply.
type ApplyOptions struct {
	// Machine is this machine: a plan made for another one is refused.
	Machine string
	// DryRun checks everything and reports what would be done, acting on
	// nothing and writing nothing to the catalog.
	DryRun bool
	// TrustCatalog skips the byte comparison with the kept file when both
	// files' fingerprints are the planned ones and complete (the scan
	// recorded their ctime). It does not apply to delete and reflink.
	TrustCatalog bool
	// Yes must be set for the delete action.
	Yes bool
	// Trash is the trash directory; "" for .indexer-trash at the mount point
	// of each file's file system.
	Trash string
	// Untrusted marks a plan that did not come from this catalog's Plan
	// (serve's clients send theirs): it is refused whole, with a
	// *BadQueryError, unless every group keeps a copy and does not act on
	// it, no copy appears twice, and every name is a present file of
	// Machine that the catalog records with its group's content and the
	// planned fingerprint.
	Untrusted bool
	// Kept, when set, chooses again the copies kept in each group of the
	// plan, as serve's duplicates page lets a user do: for each group, the
	// indexes of the copies kept among its keep, reference and act copies
	// in that order. The first is kept, the others left alone, the rest
	// acted on. A group with none keeps no copy, and is refused as such.
	Kept [][]int
	// OnEvent, when set, is called for each action taken (or, with DryRun,
	// that would be) and each name skipped, in order.
	OnEvent func(DedupeEvent)
}

// DedupeEvent is one line of Apply's log.
type DedupeEvent struct {
	Action string `json:"action"`           // hardlink, reflink, trash, delete, or "skip"
	Path   string `json:"path"`             // the file acted on or skipped
	Kept   string `json:"kept,omitempty"`   // the kept file it is a copy of
	Trash  string `json:"trash,omitempty"`  // where a trashed file went
	Reason string `json:"reason,omitempty"` // why a file was skipped
	// Note is a remark on an action: for hardlink, that the file now has
	// the kept file's mode and owner where they differed.
	Note string `json:"note,omitempty"`
}

// ErrVolumePlan is returned by Plan and Apply for a volume's files (a
// machine "vol:..."): their paths are relative to a drive that may be
// offline or mounted anywhere, and dedupe acts only on paths of this
// machine. A volume's files are never planned with the host's either: they
// are rows of their own machine.
var ErrVolumePlan = errors.New("dedupe does not act on the files of a volume recorded relative to it; scan the drive with --no-volume to deduplicate it as files of this machine")

// ErrPlanMachine is returned by Apply for a plan made for another machine.
var ErrPlanMachine = errors.New("the plan is for another machine")

// ErrDeleteNeedsYes is returned by Apply for a delete plan without Yes.
var ErrDeleteNeedsYes = errors.New("the delete action needs --yes")

// applier carries one Apply.
type applier struct {
	c    *Catalog
	plan *dto.DedupePlan
	o    ApplyOptions
	rep  dto.DedupeReport
	// link makes a hard link, os.Link outside tests, which inject faults
	// (EMLINK) here.
	link func(oldname, newname string) error
	// beforeAct, when set (tests only), runs after a copy is verified and
	// before it is acted on: the last moment a fault can slip in.
	beforeAct func(path string)
	trash     *trashRun
	changes   []repo.DedupeChange
}

// Apply acts on plan. Each file is acted on only after checking, right
// before the action, that it is still a regular file with the planned
// fingerprint (device, inode, size, mtime, ctime), that the catalog knows
// every name of its inode (so a hard-link set is never split), and that its
// bytes equal the kept file's, which is checked the same way. Anything else
// is skipped and reported, never acted on. A hard link is made under a
// temporary name beside the file and renamed over it, so no moment leaves
// the name missing. The catalog is updated as a rescan would record the
// changes. Errors are for the plan as a whole (ErrPlanMachine,
// ErrDeleteNeedsYes, a trash manifest that cannot be written, the catalog);
// what happened to each file is in the report.
func (c *Catalog) Apply(ctx context.Context, plan *dto.DedupePlan, o ApplyOptions) (dto.DedupeReport, error) {
	a := &applier{c: c, plan: plan, o: o, link: os.Link}
	return a.run(ctx)
}

func (a *applier) run(ctx context.Context) (dto.DedupeReport, error) {
	a.rep.Skipped = []dto.DedupeSkip{}
	if dto.IsVolumeMachine(a.plan.Machine) || dto.IsVolumeMachine(a.o.Machine) {
		return a.rep, ErrVolumePlan
	}
	if a.o.Kept != nil {
		p, err := rekeep(a.plan, a.o.Kept)
		if err != nil {
			return a.rep, err
		}
		a.plan = p
	}
	if a.o.Untrusted {
		if err := a.c.checkPlan(ctx, a.plan, a.o.Machine); err != nil {
			return a.rep, err
		}
	}
	if a.plan.Version != dto.DedupePlanVersion {
		return a.rep, fmt.Errorf("plan version %d is not %d, the one this indexer reads", a.plan.Version, dto.DedupePlanVersion)
	}
	if a.plan.Machine != a.o.Machine {
		return a.rep, fmt.Errorf("%w: it was made for %q and this is %q", ErrPlanMachine, a.plan.Machine, a.o.Machine)
	}

	switch a.plan.Action {
	case ActionHardlink, ActionReflink, ActionTrash:
	case ActionDelete:
		if !a.o.Yes {
			return a.rep, ErrDeleteNeedsYes
		}
	default:
		return a.rep, fmt.Errorf("plan action %q is not one of hardlink, reflink, trash, delete", a.plan.Action)
	}
	if a.plan.Action == ActionTrash {
		a.trash = newTrashRun(a.o.Trash, a.o.DryRun)
		defer a.trash.close()
	}
	var err error
	for i := range a.plan.Groups {
		if err = ctx.Err(); err != nil {
			break
		}
		if err = a.group(&a.plan.Groups[i]); err != nil {
			break
		}
		if len(a.changes) >= 1000 {
			if err = a.record(ctx); err != nil {
				break
			}
		}
	}
	if rerr := a.record(ctx); err == nil {
		err = rerr
	}
	if a.trash != nil {
		a.rep.Manifest = a.trash.manifestPath
	}
	return a.rep, err
}

// record writes the changes gathered so far to the catalog.
func (a *applier) record(ctx context.Context) error {
	if a.o.DryRun || len(a.changes) == 0 {
		return nil
	}
	changes := a.changes
	a.changes = nil
	return a.c.uow.Do(ctx, "dedupe", func(ctx context.Context, r *uow.Repos) error {
		return recordDedupe(ctx, r, a.plan.Machine, changes)
	})
}

// recordDedupe records changes in the catalog, and brings the digests of
// the directories of files gone or back up to date, as a scan would: a
// directory that lost a file is no longer a copy of its twin.
func recordDedupe(ctx context.Context, r *uow.Repos, machine string, changes []repo.DedupeChange) error {
	if err := r.Files.RecordDedupe(ctx, machine, changes, time.Now()); err != nil {
		return err
	}
	dirs := map[string]bool{}
	for _, c := range changes {
		if c.Gone || c.Present {
			dirs[filepath.Dir(c.Path)] = dirs[filepath.Dir(c.Path)] || c.Present
		}
	}
	if len(dirs) == 0 {
		return nil
	}
	paths := make([]string, 0, len(dirs))
	for p := range dirs {
		paths = append(paths, p)
	}
	if err := r.Dirs.ClearEntries(ctx, machine, paths); err != nil {
		return err
	}
	return recomputeDirs(ctx, r, machine, dirs, nil, nil, nil)
}

func (a *applier) event(e DedupeEvent) {
	if a.o.OnEvent != nil {
		a.o.OnEvent(e)
	}
}

func (a *applier) skip(path, reason string) {
	a.rep.Skipped = append(a.rep.Skipped, dto.DedupeSkip{Path: path, Reason: reason})
	a.event(DedupeEvent{Action: "skip", Path: path, Reason: reason})
}

func (a *applier) skipCopy(cp *dto.DedupeCopy, reason string) {
	for _, n := range cp.Names {
		a.skip(n.Path, reason)
	}
}

func (a *applier) skipGroup(g *dto.DedupeGroup, reason string) {
	for i := range g.Act {
		a.skipCopy(&g.Act[i], reason)
	}
}

// group acts on one group. Only an error that stops the whole apply (the
// trash manifest) is returned.
func (a *applier) group(g *dto.DedupeGroup) error {
	if len(g.Keep.Names) == 0 {
		a.skipGroup(g, "the plan keeps no copy of this content")
		return nil
	}
	for _, cp := range g.Act {
		if cp.Device == g.Keep.Device && cp.Inode == g.Keep.Inode {
			a.skipGroup(g, "the plan acts on the copy it keeps")
			return nil
		}
		if (a.plan.Action == ActionHardlink || a.plan.Action == ActionReflink) && cp.Device != g.Keep.Device {
			a.skipGroup(g, "not on the file system of the kept file "+g.Keep.Names[0].Path+"; links cannot cross file systems")
			return nil
		}
	}
	kept, reason := checkCopy(&g.Keep, g.Size)
	if reason != "" {
		a.skipGroup(g, "the kept file "+reason)
		return nil
	}
	for i := range g.Act {
		if err := a.act(g, kept, &g.Act[i]); err != nil {
			return err
		}
	}
	if !a.o.DryRun && a.plan.Action == ActionHardlink {
		// Every name of the kept inode, old and new, has a new link count
		// and ctime once the group is done.
		names := slices.Clone(g.Keep.Names)
		for _, cp := range g.Act {
			names = append(names, cp.Names...)
		}
		for _, n := range names {
			if st, err := walk.Lstat(n.Path); err == nil && st.IsRegular() && st.Device == kept.st.Device && st.Inode == kept.st.Inode {
				a.changes = append(a.changes, repo.DedupeChange{Path: n.Path, Validators: st.Validators, Modified: st.Modified})
			}
		}
	}
	return nil
}

// keptFile is a verified file: its first name, its stat, and whether its
// planned fingerprint was complete (a scan records no ctime for a file that
// changed as it was read).
type keptFile struct {
	path  string
	st    walk.Stat
	exact bool
}

// checkCopy checks every name of cp against its planned fingerprint and
// returns the first name's stat, or a reason (a phrase about the file)
// when the copy must not be touched.
func checkCopy(cp *dto.DedupeCopy, size int64) (keptFile, string) {
	first := keptFile{exact: true}
	for i, n := range cp.Names {
		if n.CtimeNS == 0 {
			first.exact = false
		}
		st, reason := checkName(n, cp.Device, cp.Inode)
		if reason != "" {
			return keptFile{}, n.Path + " " + reason
		}
		if st.Size != size {
			return keptFile{}, n.Path + " is not the size of its group"
		}
		if i == 0 {
			first.path, first.st = n.Path, st
		}
	}
	if first.st.Nlink > uint64(len(cp.Names)) {
		return keptFile{}, fmt.Sprintf("%s has %d names on disk and the catalog knows %d; acting on it would split its hard-link set (scan the other names first)",
			first.path, first.st.Nlink, len(cp.Names))
	}
	return first, ""
}

// checkName stats n and compares it with its planned fingerprint; it returns
// a reason, a phrase such as "was modified since the scan", when they differ.
func checkName(n dto.DedupeName, dev, ino uint64) (walk.Stat, string) {
	st, err := walk.Lstat(n.Path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return st, "is gone"
	case err != nil:
		return st, "cannot be checked: " + why(err)
	case !st.IsRegular():
		return st, "is no longer a regular file"
	case st.Device != dev:
		return st, "is now on another file system"
	case st.Inode != ino:
		return st, "was replaced by another file since the scan"
	case st.Size != n.Size:
		return st, "changed size since the scan"
	case st.MtimeNS != n.MtimeNS:
		return st, "was modified since the scan"
	case n.CtimeNS != 0 && st.CtimeNS != n.CtimeNS:
		// 0: the scan saw the file change as it read it and recorded no
		// ctime; the byte comparison has to vouch for it.
		return st, "changed since the scan (its ctime differs)"
	}
	return st, ""
}

// recheck is the last look at a name before it is acted on: the same file,
// unchanged since it was verified. With strict its ctime must not have moved
// either; without, it may have, as it does when another name of its inode
// was acted on.
func recheck(path string, want walk.Stat, strict bool) string {
	st, err := walk.Lstat(path)
	switch {
	case err != nil:
		return "is gone"
	case !st.IsRegular() || st.Device != want.Device || st.Inode != want.Inode:
		return "was replaced by another file"
	case st.Size != want.Size || st.MtimeNS != want.MtimeNS:
		return "was modified"
	case strict && st.CtimeNS != want.CtimeNS:
		return "was changed (its ctime moved)"
	}
	return ""
}

// act checks one copy and, when it passes, acts on all its names.
func (a *applier) act(g *dto.DedupeGroup, kept keptFile, cp *dto.DedupeCopy) error {
	victim, reason := checkCopy(cp, g.Size)
	if reason != "" {
		a.skipCopy(cp, reason)
		return nil
	}
	if a.plan.Action == ActionReflink || a.plan.Action == ActionDelete || !a.o.TrustCatalog || !kept.exact || !victim.exact {
		// The kernel compares the bytes itself for reflink, but a file that
		// differs is better reported before than as a failed ioctl.
		if reason := sameContent(kept, victim); reason != "" {
			a.skipCopy(cp, reason)
			return nil
		}
	}
	if reason := recheck(kept.path, kept.st, false); reason != "" {
		a.skipCopy(cp, "the kept file "+kept.path+" "+reason)
		return nil
	}
	if a.beforeAct != nil {
		a.beforeAct(victim.path)
	}
	switch a.plan.Action {
	case ActionHardlink:
		a.hardlink(g, kept, cp, victim)
	case ActionReflink:
		a.reflink(g, kept, cp, victim)
	case ActionTrash:
		return a.moveToTrash(g, kept, cp, victim)
	case ActionDelete:
		a.remove(g, kept, cp, victim)
	}
	return nil
}

// sameContent compares the bytes of the kept file and the victim, each
// opened without following symlinks and checked to be the inode verified,
// and checks that neither changed while read. It returns a reason when they
// differ or cannot be compared.
func sameContent(kept, victim keptFile) string {
	ka, reason := openVerified(kept)
	if reason != "" {
		return "the kept file " + kept.path + " " + reason
	}
	defer ka.Close()
	vb, reason := openVerified(victim)
	if reason != "" {
		return victim.path + " " + reason
	}
	defer vb.Close()
	bufA, bufB := make([]byte, 1<<20), make([]byte, 1<<20)
	for {
		na, errA := io.ReadFull(ka, bufA)
		nb, errB := io.ReadFull(vb, bufB)
		if !bytes.Equal(bufA[:na], bufB[:nb]) {
			return victim.path + " differs from the kept file " + kept.path
		}
		if errA == io.EOF || errA == io.ErrUnexpectedEOF {
			if errB != io.EOF && errB != io.ErrUnexpectedEOF {
				return victim.path + " differs from the kept file " + kept.path
			}
			break
		}
		if errA != nil {
			return "the kept file " + kept.path + " cannot be read: " + errA.Error()
		}
		if errB != nil {
			return victim.path + " cannot be read: " + errB.Error()
		}
	}
	if reason := recheck(victim.path, victim.st, true); reason != "" {
		return victim.path + " " + reason + " while it was compared"
	}
	return ""
}

// openVerified opens f.path for reading, refusing a symlink, and checks it
// is the verified file.
func openVerified(f keptFile) (*os.File, string) {
	fd, err := os.OpenFile(f.path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NOCTTY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, "cannot be opened: " + why(err)
	}
	st, err := walk.Fstat(int(fd.Fd()))
	if err != nil || st.Device != f.st.Device || st.Inode != f.st.Inode || st.Size != f.st.Size || st.MtimeNS != f.st.MtimeNS {
		fd.Close()
		return nil, "was replaced or modified"
	}
	return fd, ""
}

// tempName returns a fresh name in dir for a link to be renamed over
// another name there.
func tempName(dir string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return filepath.Join(dir, ".indexer-dedupe-"+hex.EncodeToString(b[:]))
}

// hardlink replaces every name of the victim with a hard link of the kept
// file. All the links are made first, under temporary names beside the
// names they replace: if one fails (EMLINK, EXDEV, ...) they are removed and
// nothing has changed. Then each is renamed over its name, atomically.
func (a *applier) hardlink(g *dto.DedupeGroup, kept keptFile, cp *dto.DedupeCopy, victim keptFile) {
	note := ""
	if vs, ks := statOwner(victim.path), statOwner(kept.path); vs != ks {
		note = fmt.Sprintf("now has the kept file's mode and owner (%s, was %s)", ks, vs)
	}
	if a.o.DryRun {
		for _, n := range cp.Names {
			a.event(DedupeEvent{Action: ActionHardlink, Path: n.Path, Kept: kept.path, Note: note})
		}
		a.rep.Applied += len(cp.Names)
		a.rep.BytesReclaimed += g.Size
		return
	}
	temps := make([]string, len(cp.Names))
	cleanup := func() {
		for _, t := range temps {
			if t != "" {
				_ = os.Remove(t)
			}
		}
	}
	for i, n := range cp.Names {
		t := tempName(filepath.Dir(n.Path))
		if err := a.link(kept.path, t); err != nil {
			cleanup()
			a.skipCopy(cp, "cannot be linked to the kept file "+kept.path+": "+linkError(err))
			return
		}
		temps[i] = t
		if st, err := walk.Lstat(t); err != nil || st.Device != kept.st.Device || st.Inode != kept.st.Inode {
			cleanup()
			a.skipCopy(cp, "the kept file "+kept.path+" was replaced while it was linked")
			return
		}
	}
	for i, n := range cp.Names {
		want := victim.st
		if reason := recheck(n.Path, want, i == 0); reason != "" {
			cleanup()
			a.skipCopy(&dto.DedupeCopy{Names: cp.Names[i:]}, n.Path+" "+reason+" just before it was linked")
			return
		}
		if err := os.Rename(temps[i], n.Path); err != nil {
			cleanup()
			a.skipCopy(&dto.DedupeCopy{Names: cp.Names[i:]}, "cannot be replaced by a link: "+why(err))
			return
		}
		temps[i] = ""
		a.rep.Applied++
		a.event(DedupeEvent{Action: ActionHardlink, Path: n.Path, Kept: kept.path, Note: note})
	}
	a.rep.BytesReclaimed += g.Size
}

// linkError names why a link failed, in words.
func linkError(err error) string {
	switch {
	case errors.Is(err, syscall.EMLINK):
		return "the kept file has as many links as its file system allows (EMLINK)"
	case errors.Is(err, syscall.EXDEV):
		return "it is on another file system (EXDEV)"
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err.Error()
	}
	return err.Error()
}

// statOwner describes a file's permission bits and owner, "" when it cannot
// be read.
func statOwner(path string) string {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return ""
	}
	return fmt.Sprintf("mode %04o, owner %d:%d", st.Mode&0o7777, st.Uid, st.Gid)
}

// remove deletes every name of the victim. The kept file was verified
// present and equal to it just before.
func (a *applier) remove(g *dto.DedupeGroup, kept keptFile, cp *dto.DedupeCopy, victim keptFile) {
	for i, n := range cp.Names {
		if !a.o.DryRun {
			if reason := recheck(n.Path, victim.st, i == 0); reason != "" {
				a.skipCopy(&dto.DedupeCopy{Names: cp.Names[i:]}, n.Path+" "+reason+" just before it was deleted")
				return
			}
			if err := os.Remove(n.Path); err != nil {
				a.skipCopy(&dto.DedupeCopy{Names: cp.Names[i:]}, "cannot be deleted: "+why(err))
				return
			}
			a.changes = append(a.changes, repo.DedupeChange{Path: n.Path, Gone: true})
		}
		a.rep.Applied++
		a.event(DedupeEvent{Action: ActionDelete, Path: n.Path, Kept: kept.path})
	}
	a.rep.BytesReclaimed += g.Size
}

// why is the system's words for err, without the path the caller names
// itself.
func why(err error) string {
	if u := errors.Unwrap(err); u != nil {
		return u.Error()
	}
	return err.Error()
}
