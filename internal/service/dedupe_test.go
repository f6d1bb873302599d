package service

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/uow"
	"github.com/indexer/indexer/internal/walk"
)

// dedupeFixture is a scanned tree of duplicates.
type dedupeFixture struct {
	root string
	c    *Catalog
	data []byte
}

// newDedupeFixture writes data under each of rels in a fresh directory,
// the first the oldest, and scans it as machine "m".
func newDedupeFixture(t *testing.T, rels ...string) *dedupeFixture {
	t.Helper()
	f := &dedupeFixture{root: t.TempDir(), c: openTestCatalog(t), data: randomBytes(42, 3000)}
	base := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, rel := range rels {
		p := f.path(rel)
		writeFile(t, p, f.data)
		mt := base.Add(time.Duration(i) * time.Hour)
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	// A file whose ctime is this recent is recorded without one (see
	// racyWindow): wait, so the plan holds complete fingerprints.
	time.Sleep(racyWindow + 20*time.Millisecond)
	f.scan(t)
	return f
}

func (f *dedupeFixture) path(rel string) string { return filepath.Join(f.root, rel) }

func (f *dedupeFixture) scan(t *testing.T) {
	t.Helper()
	if _, err := f.c.Scan(context.Background(), []string{f.root}, ScanOptions{Machine: "m"}); err != nil {
		t.Fatal(err)
	}
}

func (f *dedupeFixture) plan(t *testing.T, action string, keep ...string) dto.DedupePlan {
	t.Helper()
	p, err := f.c.Plan(context.Background(), DedupePlanOptions{Dupes: DupesOptions{Machine: "m", MinSize: 1},
		Action: action, Keep: keep})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *dedupeFixture) apply(t *testing.T, p dto.DedupePlan, o ApplyOptions) dto.DedupeReport {
	t.Helper()
	o.Machine = "m"
	rep, err := f.c.Apply(context.Background(), &p, o)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func inodeOf(t *testing.T, p string) uint64 {
	t.Helper()
	st, err := walk.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Inode
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// catalogRow returns machine m's row for path.
func catalogRow(t *testing.T, c *Catalog, path string) dto.FileMeta {
	t.Helper()
	var m dto.FileMeta
	err := c.uow.Read(context.Background(), func(ctx context.Context, r *uow.Repos) error {
		ms, err := r.Files.GetByPaths(ctx, "m", []string{path})
		m = ms[path]
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// skippedPaths returns the paths of rep's skips, sorted.
func skippedPaths(rep dto.DedupeReport) []string {
	var out []string
	for _, s := range rep.Skipped {
		out = append(out, s.Path)
	}
	slices.Sort(out)
	return out
}

func TestDedupeHardlinkKeepsOldest(t *testing.T) {
	f := newDedupeFixture(t, "b/old.bin", "a/mid.bin", "c/new.bin")
	p := f.plan(t, ActionHardlink, "oldest")
	if len(p.Groups) != 1 || p.Groups[0].Keep.Names[0].Path != f.path("b/old.bin") || p.Groups[0].Keep.Rule != "oldest" {
		t.Fatalf("plan = %+v; want one group keeping b/old.bin by rule oldest", p.Groups)
	}
	rep := f.apply(t, p, ApplyOptions{})
	if rep.Applied != 2 || len(rep.Skipped) != 0 || rep.BytesReclaimed != 2*int64(len(f.data)) {
		t.Fatalf("report = %+v; want 2 applied, none skipped, %d bytes", rep, 2*len(f.data))
	}
	kept := inodeOf(t, f.path("b/old.bin"))
	for _, rel := range []string{"a/mid.bin", "c/new.bin"} {
		if got := inodeOf(t, f.path(rel)); got != kept {
			t.Errorf("%s has inode %d; want the kept file's %d", rel, got, kept)
		}
		if !bytes.Equal(mustRead(t, f.path(rel)), f.data) {
			t.Errorf("%s lost its content", rel)
		}
		if row := catalogRow(t, f.c, f.path(rel)); row.Inode != kept || row.Nlink != 3 {
			t.Errorf("catalog row of %s has inode %d, nlink %d; want %d, 3", rel, row.Inode, row.Nlink, kept)
		}
	}
	if row := catalogRow(t, f.c, f.path("b/old.bin")); row.Nlink != 3 {
		t.Errorf("catalog row of the kept file has nlink %d; want 3", row.Nlink)
	}
	// A rescan finds nothing changed: the catalog recorded what it would.
	rep2, err := f.c.Scan(context.Background(), []string{f.root}, ScanOptions{Machine: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if rep2.Counts.Modified != 0 || rep2.Counts.Added != 0 || rep2.Counts.Deleted != 0 {
		t.Errorf("rescan after apply = %+v; want nothing added, modified or deleted", rep2.Counts)
	}
	leftovers, _ := filepath.Glob(filepath.Join(f.root, "*", ".indexer-dedupe-*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary links left behind: %v", leftovers)
	}
}

// TestDedupeSkipsFilesChangedSinceTheScan injects each change a file can
// undergo between the plan and the apply, and proves the file is skipped and
// left as it is, whatever the action.
func TestDedupeSkipsFilesChangedSinceTheScan(t *testing.T) {
	other := []byte(strings.Repeat("z", 3000))
	cases := []struct {
		name   string
		change func(t *testing.T, victim string)
		// check proves the victim is what the change left.
		check func(t *testing.T, victim string)
	}{
		{"new content", func(t *testing.T, v string) {
			if err := os.WriteFile(v, []byte("new"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, v string) {
			if got := mustRead(t, v); string(got) != "new" {
				t.Errorf("victim holds %q; want its new content", got)
			}
		}},
		{"same-size rewrite with mtime restored", func(t *testing.T, v string) {
			st, _ := os.Stat(v)
			if err := os.WriteFile(v, other, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(v, st.ModTime(), st.ModTime()); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, v string) {
			if !bytes.Equal(mustRead(t, v), other) {
				t.Error("victim lost its rewritten content")
			}
		}},
		{"replaced by a symlink", func(t *testing.T, v string) {
			if err := os.Remove(v); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("/etc/hostname", v); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, v string) {
			if target, err := os.Readlink(v); err != nil || target != "/etc/hostname" {
				t.Errorf("victim symlink = %q, %v; want it untouched", target, err)
			}
		}},
		{"deleted", func(t *testing.T, v string) {
			if err := os.Remove(v); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, v string) {
			if _, err := os.Lstat(v); !os.IsNotExist(err) {
				t.Errorf("victim reappeared: %v", err)
			}
		}},
	}
	for _, action := range []string{ActionHardlink, ActionTrash, ActionDelete} {
		for _, tc := range cases {
			for _, trust := range []bool{false, true} {
				name := action + "/" + tc.name
				if trust {
					name += "/trust-catalog"
				}
				t.Run(name, func(t *testing.T) {
					f := newDedupeFixture(t, "keep.bin", "victim.bin")
					p := f.plan(t, action, "oldest")
					victim := f.path("victim.bin")
					tc.change(t, victim)
					rep := f.apply(t, p, ApplyOptions{Yes: true, TrustCatalog: trust, Trash: filepath.Join(f.root, "trash")})
					if rep.Applied != 0 || !slices.Equal(skippedPaths(rep), []string{victim}) {
						t.Fatalf("report = %+v; want victim.bin skipped and nothing applied", rep)
					}
					tc.check(t, victim)
					if !bytes.Equal(mustRead(t, f.path("keep.bin")), f.data) {
						t.Error("the kept file changed")
					}
				})
			}
		}
	}
}

// TestDedupeSkipsFileChangedAtTheLastMoment changes the victim after it was
// verified and compared, just before the action: the last look catches it.
func TestDedupeSkipsFileChangedAtTheLastMoment(t *testing.T) {
	for _, action := range []string{ActionHardlink, ActionTrash, ActionDelete} {
		t.Run(action, func(t *testing.T) {
			f := newDedupeFixture(t, "keep.bin", "victim.bin")
			p := f.plan(t, action, "oldest")
			victim := f.path("victim.bin")
			other := bytes.Repeat([]byte("q"), len(f.data)+1)
			a := &applier{c: f.c, plan: &p, o: ApplyOptions{Machine: "m", Yes: true, Trash: filepath.Join(f.root, "trash")}, link: os.Link}
			// A rewrite within one tick of the kernel's coarse clock may
			// leave ctime as it was: what the last look can see is the
			// size and mtime. (The planned fingerprint, ctime included,
			// and the byte comparison cover changes made earlier.)
			a.beforeAct = func(path string) {
				if err := os.WriteFile(path, other, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			rep, err := a.run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if rep.Applied != 0 || len(rep.Skipped) != 1 {
				t.Fatalf("report = %+v; want the victim skipped", rep)
			}
			if !bytes.Equal(mustRead(t, victim), other) {
				t.Error("the victim's new content was lost")
			}
		})
	}
}

// TestDedupeComparesBytes proves the byte comparison: a victim whose
// fingerprint is the planned one (the catalog was wrong, or the file was
// rewritten and its times reset) but whose bytes differ is skipped, unless
// --trust-catalog, which trusts the fingerprint.
func TestDedupeComparesBytes(t *testing.T) {
	f := newDedupeFixture(t, "keep.bin", "victim.bin")
	p := f.plan(t, ActionHardlink, "oldest")
	victim := f.path("victim.bin")
	other := bytes.Repeat([]byte("q"), len(f.data))
	if err := os.WriteFile(victim, other, 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := walk.Lstat(victim)
	if err != nil {
		t.Fatal(err)
	}
	n := &p.Groups[0].Act[0].Names[0]
	n.MtimeNS, n.CtimeNS = st.MtimeNS, st.CtimeNS
	rep := f.apply(t, p, ApplyOptions{})
	if rep.Applied != 0 || len(rep.Skipped) != 1 || !strings.Contains(rep.Skipped[0].Reason, "differs from the kept file") {
		t.Fatalf("report = %+v; want the victim skipped as different", rep)
	}
	if !bytes.Equal(mustRead(t, victim), other) {
		t.Fatal("the victim's content was lost")
	}
}

func TestDedupeSkipsGroupWhenKeptFileChanged(t *testing.T) {
	for _, action := range []string{ActionHardlink, ActionTrash, ActionDelete} {
		t.Run(action, func(t *testing.T) {
			f := newDedupeFixture(t, "keep.bin", "v1.bin", "v2.bin")
			p := f.plan(t, action, "oldest")
			if err := os.WriteFile(f.path("keep.bin"), []byte("changed"), 0o644); err != nil {
				t.Fatal(err)
			}
			rep := f.apply(t, p, ApplyOptions{Yes: true, Trash: filepath.Join(f.root, "trash")})
			if rep.Applied != 0 || len(rep.Skipped) != 2 || !strings.Contains(rep.Skipped[0].Reason, "the kept file") {
				t.Fatalf("report = %+v; want both victims skipped because of the kept file", rep)
			}
			for _, rel := range []string{"v1.bin", "v2.bin"} {
				if !bytes.Equal(mustRead(t, f.path(rel)), f.data) {
					t.Errorf("%s changed", rel)
				}
			}
		})
	}
}

// TestDedupeHardlinkSetIsNotSplit: every name of a victim's inode is
// relinked; a victim with a name the catalog does not know is left whole.
func TestDedupeHardlinkSetIsNotSplit(t *testing.T) {
	f := newDedupeFixture(t, "keep.bin", "v/one.bin")
	if err := os.Link(f.path("v/one.bin"), f.path("v/two.bin")); err != nil {
		t.Fatal(err)
	}
	f.scan(t)
	p := f.plan(t, ActionHardlink, "oldest")
	if len(p.Groups) != 1 || len(p.Groups[0].Act) != 1 || len(p.Groups[0].Act[0].Names) != 2 {
		t.Fatalf("plan = %+v; want one victim copy with two names", p.Groups)
	}
	rep := f.apply(t, p, ApplyOptions{})
	if rep.Applied != 2 || len(rep.Skipped) != 0 {
		t.Fatalf("report = %+v; want both names relinked", rep)
	}
	kept := inodeOf(t, f.path("keep.bin"))
	for _, rel := range []string{"v/one.bin", "v/two.bin"} {
		if inodeOf(t, f.path(rel)) != kept {
			t.Errorf("%s was not relinked: the hard-link set was split", rel)
		}
	}

	t.Run("a name the catalog does not know", func(t *testing.T) {
		f := newDedupeFixture(t, "root/keep.bin", "root/v.bin")
		hidden := f.path("elsewhere.bin") // not below the scanned root
		if err := os.Link(f.path("root/v.bin"), hidden); err != nil {
			t.Fatal(err)
		}
		f2 := &dedupeFixture{root: f.path("root"), c: openTestCatalog(t), data: f.data}
		f2.scan(t)
		p := f2.plan(t, ActionHardlink, "oldest")
		rep := f2.apply(t, p, ApplyOptions{})
		if rep.Applied != 0 || len(rep.Skipped) != 1 || !strings.Contains(rep.Skipped[0].Reason, "split its hard-link set") {
			t.Fatalf("report = %+v; want v.bin skipped as part of a larger hard-link set", rep)
		}
		if inodeOf(t, f.path("root/v.bin")) != inodeOf(t, hidden) {
			t.Error("the hard-link set was split")
		}
	})
}

// TestDedupeHardlinkEMLINK: when the kept file cannot take one more link,
// no name of the victim changes and no temporary link is left.
func TestDedupeHardlinkEMLINK(t *testing.T) {
	f := newDedupeFixture(t, "keep.bin", "v/one.bin")
	if err := os.Link(f.path("v/one.bin"), f.path("v/two.bin")); err != nil {
		t.Fatal(err)
	}
	f.scan(t)
	p := f.plan(t, ActionHardlink, "oldest")
	before := inodeOf(t, f.path("v/one.bin"))
	calls := 0
	a := &applier{c: f.c, plan: &p, o: ApplyOptions{Machine: "m"}, link: func(o, n string) error {
		calls++
		if calls == 2 {
			return &os.LinkError{Op: "link", Old: o, New: n, Err: syscall.EMLINK}
		}
		return os.Link(o, n)
	}}
	rep, err := a.run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Applied != 0 || len(rep.Skipped) != 2 || !strings.Contains(rep.Skipped[0].Reason, "EMLINK") {
		t.Fatalf("report = %+v; want both names skipped for EMLINK", rep)
	}
	for _, rel := range []string{"v/one.bin", "v/two.bin"} {
		if inodeOf(t, f.path(rel)) != before {
			t.Errorf("%s changed: the set was split", rel)
		}
	}
	if left, _ := filepath.Glob(f.path("v/.indexer-dedupe-*")); len(left) != 0 {
		t.Errorf("temporary links left: %v", left)
	}
}

// otherFileSystem returns a directory on another file system than dir, or
// skips the test.
func otherFileSystem(t *testing.T, dir string) string {
	t.Helper()
	a, err := walk.Lstat(dir)
	if err != nil {
		t.Fatal(err)
	}
	shm, err := os.MkdirTemp("/dev/shm", "indexer-dedupe-")
	if err != nil {
		t.Skipf("no /dev/shm to stand for another file system: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(shm) })
	b, err := walk.Lstat(shm)
	if err != nil || b.Device == a.Device {
		t.Skip("/dev/shm is on the file system of the test's temporary directory")
	}
	return shm
}

// TestDedupeAcrossFileSystems: hardlink plans never pair files of two file
// systems; a plan that does is refused for the whole group; a victim moved
// to another file system after the plan is skipped; EXDEV from link is a
// skip.
func TestDedupeAcrossFileSystems(t *testing.T) {
	f := newDedupeFixture(t, "keep.bin", "v1.bin", "v2.bin")
	shm := otherFileSystem(t, f.root)
	far := filepath.Join(shm, "far.bin")
	writeFile(t, far, f.data)
	if _, err := f.c.Scan(context.Background(), []string{shm}, ScanOptions{Machine: "m"}); err != nil {
		t.Fatal(err)
	}
	p := f.plan(t, ActionHardlink, "oldest")
	if len(p.Groups) != 1 || len(p.Groups[0].Act) != 2 {
		t.Fatalf("plan = %+v; want one group of the two same-file-system victims", p.Groups)
	}

	// A tampered plan pairing the far file with the kept one: refused whole.
	bad := p
	bad.Groups = []dto.DedupeGroup{p.Groups[0]}
	g := &bad.Groups[0]
	g.Act = append(slices.Clone(g.Act), dto.DedupeCopy{Device: catalogRow(t, f.c, far).Device, Inode: catalogRow(t, f.c, far).Inode,
		Names: []dto.DedupeName{{Path: far, Size: int64(len(f.data)), MtimeNS: catalogRow(t, f.c, far).MtimeNS, CtimeNS: catalogRow(t, f.c, far).CtimeNS}}})
	rep := f.apply(t, bad, ApplyOptions{DryRun: false})
	if rep.Applied != 0 || len(rep.Skipped) != 3 || !strings.Contains(rep.Skipped[0].Reason, "file system") {
		t.Fatalf("report = %+v; want the whole group refused", rep)
	}
	if inodeOf(t, f.path("v1.bin")) == inodeOf(t, f.path("keep.bin")) {
		t.Fatal("v1.bin was linked although its group was refused")
	}

	// v2 moves to the other file system after the plan: skipped, v1 linked.
	moved := filepath.Join(shm, "moved.bin")
	data := mustRead(t, f.path("v2.bin"))
	writeFile(t, moved, data)
	if err := os.Remove(f.path("v2.bin")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(moved, f.path("v2.bin")); err != nil {
		t.Fatal(err)
	}
	rep = f.apply(t, p, ApplyOptions{})
	if rep.Applied != 1 || !slices.Equal(skippedPaths(rep), []string{f.path("v2.bin")}) {
		t.Fatalf("report = %+v; want v1 linked and v2 skipped", rep)
	}
	if !bytes.Equal(mustRead(t, moved), f.data) {
		t.Error("the moved file lost its content")
	}

	// EXDEV from the link itself (a bind mount, say) is a skip.
	f2 := newDedupeFixture(t, "keep.bin", "v.bin")
	p2 := f2.plan(t, ActionHardlink, "oldest")
	a := &applier{c: f2.c, plan: &p2, o: ApplyOptions{Machine: "m"}, link: func(o, n string) error {
		return &os.LinkError{Op: "link", Old: o, New: n, Err: syscall.EXDEV}
	}}
	rep, err := a.run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Applied != 0 || len(rep.Skipped) != 1 || !strings.Contains(rep.Skipped[0].Reason, "EXDEV") {
		t.Fatalf("report = %+v; want v.bin skipped for EXDEV", rep)
	}
}

func TestDedupeTrashAndUndo(t *testing.T) {
	f := newDedupeFixture(t, "keep.bin", "a/v1.bin", "b/v2.bin")
	trash := filepath.Join(t.TempDir(), "trash")
	p := f.plan(t, ActionTrash, "oldest")
	inodes := map[string]uint64{}
	for _, rel := range []string{"a/v1.bin", "b/v2.bin"} {
		inodes[rel] = inodeOf(t, f.path(rel))
	}
	rep := f.apply(t, p, ApplyOptions{Trash: trash})
	if rep.Applied != 2 || len(rep.Skipped) != 0 || rep.Manifest == "" {
		t.Fatalf("report = %+v; want 2 trashed and a manifest", rep)
	}
	for _, rel := range []string{"a/v1.bin", "b/v2.bin"} {
		if _, err := os.Lstat(f.path(rel)); !os.IsNotExist(err) {
			t.Errorf("%s is still there: %v", rel, err)
		}
		if row := catalogRow(t, f.c, f.path(rel)); row.Operation != dto.OpDel {
			t.Errorf("catalog row of %s is %s; want DEL", rel, row.Operation)
		}
	}
	// Something appears at one old path: undo must not overwrite it.
	writeFile(t, f.path("b/v2.bin"), []byte("newcomer"))
	u, err := f.c.Undo(context.Background(), rep.Manifest, UndoOptions{Machine: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if u.Restored != 1 || !slices.Equal(skippedPathsOf(u.Skipped), []string{f.path("b/v2.bin")}) {
		t.Fatalf("undo = %+v; want v1 restored and v2 refused", u)
	}
	if inodeOf(t, f.path("a/v1.bin")) != inodes["a/v1.bin"] || !bytes.Equal(mustRead(t, f.path("a/v1.bin")), f.data) {
		t.Error("v1 was not restored as it was")
	}
	if row := catalogRow(t, f.c, f.path("a/v1.bin")); row.Operation == dto.OpDel {
		t.Error("catalog still has the restored v1 as DEL")
	}
	if got := mustRead(t, f.path("b/v2.bin")); string(got) != "newcomer" {
		t.Errorf("the newcomer at v2's path was overwritten: %q", got)
	}
	// Move the newcomer away: a second undo restores v2, a third nothing.
	if err := os.Remove(f.path("b/v2.bin")); err != nil {
		t.Fatal(err)
	}
	u, err = f.c.Undo(context.Background(), rep.Manifest, UndoOptions{Machine: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if u.Restored != 1 || inodeOf(t, f.path("b/v2.bin")) != inodes["b/v2.bin"] {
		t.Fatalf("second undo = %+v; want v2 restored", u)
	}
	u, err = f.c.Undo(context.Background(), rep.Manifest, UndoOptions{Machine: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if u.Restored != 0 || len(u.Skipped) != 2 {
		t.Fatalf("third undo = %+v; want nothing restored", u)
	}
}

func skippedPathsOf(s []dto.DedupeSkip) []string {
	return skippedPaths(dto.DedupeReport{Skipped: s})
}

// TestDedupePlanAppliedTwice: the second apply finds every victim changed
// and acts on nothing; no file is lost.
func TestDedupePlanAppliedTwice(t *testing.T) {
	for _, action := range []string{ActionHardlink, ActionTrash, ActionDelete} {
		t.Run(action, func(t *testing.T) {
			f := newDedupeFixture(t, "keep.bin", "v1.bin", "v2.bin")
			p := f.plan(t, action, "oldest")
			o := ApplyOptions{Yes: true, Trash: filepath.Join(f.root, "trash")}
			if rep := f.apply(t, p, o); rep.Applied != 2 {
				t.Fatalf("first apply = %+v; want 2 applied", rep)
			}
			rep := f.apply(t, p, o)
			if rep.Applied != 0 || len(rep.Skipped) != 2 {
				t.Fatalf("second apply = %+v; want both skipped", rep)
			}
			if !bytes.Equal(mustRead(t, f.path("keep.bin")), f.data) {
				t.Error("the kept file was lost")
			}
		})
	}
}

// TestDedupeAlwaysKeepsACopy: rules that prefer no copy, or every copy,
// still keep one; a plan edited to keep none, or to act on the copy it keeps,
// is refused at apply.
func TestDedupeAlwaysKeepsACopy(t *testing.T) {
	f := newDedupeFixture(t, "x/a.bin", "x/b.bin", "x/c.bin")
	for _, rules := range [][]string{{"under:/nonexistent"}, {"not-under:" + f.root}, {"under:" + f.root}} {
		p := f.plan(t, ActionDelete, rules...)
		if len(p.Groups) != 1 || len(p.Groups[0].Keep.Names) != 1 || len(p.Groups[0].Act) != 2 {
			t.Fatalf("rules %v: plan = %+v; want one kept and two acted on", rules, p.Groups)
		}
	}
	p := f.plan(t, ActionDelete, "oldest")
	none := p
	none.Groups = []dto.DedupeGroup{p.Groups[0]}
	none.Groups[0].Act = append(slices.Clone(p.Groups[0].Act), p.Groups[0].Keep)
	none.Groups[0].Keep = dto.DedupeCopy{}
	rep := f.apply(t, none, ApplyOptions{Yes: true})
	if rep.Applied != 0 || len(rep.Skipped) != 3 {
		t.Fatalf("plan keeping nothing: report = %+v; want all skipped", rep)
	}
	self := p
	self.Groups = []dto.DedupeGroup{p.Groups[0]}
	self.Groups[0].Act = append(slices.Clone(p.Groups[0].Act), p.Groups[0].Keep)
	rep = f.apply(t, self, ApplyOptions{Yes: true})
	if rep.Applied != 0 || len(rep.Skipped) != 3 {
		t.Fatalf("plan acting on its kept copy: report = %+v; want all skipped", rep)
	}
	for _, rel := range []string{"x/a.bin", "x/b.bin", "x/c.bin"} {
		if !bytes.Equal(mustRead(t, f.path(rel)), f.data) {
			t.Errorf("%s was touched", rel)
		}
	}
}

func TestDedupeKeepRules(t *testing.T) {
	// Written in this order, so oldest first: mtimes one hour apart.
	f := newDedupeFixture(t, "deep/er/path/long-name.bin", "s.bin", "mid/x.bin")
	cases := []struct {
		rules []string
		ref   []string
		want  string
		rule  string
	}{
		{[]string{"oldest"}, nil, "deep/er/path/long-name.bin", "oldest"},
		{[]string{"newest"}, nil, "mid/x.bin", "newest"},
		{[]string{"shortest-path"}, nil, "s.bin", "shortest-path"},
		{[]string{"longest-path"}, nil, "deep/er/path/long-name.bin", "longest-path"},
		{[]string{"shallowest"}, nil, "s.bin", "shallowest"},
		{[]string{"deepest"}, nil, "deep/er/path/long-name.bin", "deepest"},
		{[]string{"under:" + f.path("mid")}, nil, "mid/x.bin", "under:" + f.path("mid")},
		{[]string{"not-under:" + f.path("deep"), "newest"}, nil, "mid/x.bin", "newest"},
		{nil, nil, "deep/er/path/long-name.bin", "path order"},
		{[]string{"oldest"}, []string{f.path("mid")}, "mid/x.bin", "reference"},
	}
	for _, tc := range cases {
		p, err := f.c.Plan(context.Background(), DedupePlanOptions{Dupes: DupesOptions{Machine: "m", MinSize: 1},
			Action: ActionTrash, Keep: tc.rules, Reference: tc.ref})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Groups) != 1 {
			t.Fatalf("%v: %d groups; want 1", tc.rules, len(p.Groups))
		}
		k := p.Groups[0].Keep
		if k.Names[0].Path != f.path(tc.want) || k.Rule != tc.rule {
			t.Errorf("rules %v ref %v: keep %s by %q; want %s by %q", tc.rules, tc.ref, k.Names[0].Path, k.Rule, tc.want, tc.rule)
		}
	}
	// A reference copy that is not kept is never acted on.
	p, err := f.c.Plan(context.Background(), DedupePlanOptions{Dupes: DupesOptions{Machine: "m", MinSize: 1},
		Action: ActionTrash, Keep: []string{"newest"}, Reference: []string{f.path("deep"), f.path("mid")}})
	if err != nil {
		t.Fatal(err)
	}
	g := p.Groups[0]
	if len(g.Act) != 1 || g.Act[0].Names[0].Path != f.path("s.bin") || len(g.Reference) != 1 {
		t.Fatalf("plan with two references = %+v; want only s.bin acted on", g)
	}
	// Files in a trash directory take no part.
	writeFile(t, f.path(TrashDirName+"/run/a"), f.data)
	f.scan(t)
	p, err = f.c.Plan(context.Background(), DedupePlanOptions{Dupes: DupesOptions{Machine: "m", MinSize: 1},
		Action: ActionTrash, Keep: []string{"shortest-path"}})
	if err != nil {
		t.Fatal(err)
	}
	if g := p.Groups[0]; len(g.Act) != 2 || g.Keep.Names[0].Path != f.path("s.bin") {
		t.Fatalf("plan with a trashed copy = %+v; want the trash left out", g)
	}
	if _, err := f.c.Plan(context.Background(), DedupePlanOptions{Dupes: DupesOptions{Machine: "m"}, Action: ActionTrash,
		Keep: []string{"biggest"}}); err == nil {
		t.Error("an unknown rule was accepted")
	}
}

func TestDedupeDeleteNeedsYes(t *testing.T) {
	f := newDedupeFixture(t, "keep.bin", "v.bin")
	p := f.plan(t, ActionDelete, "oldest")
	if _, err := f.c.Apply(context.Background(), &p, ApplyOptions{Machine: "m"}); err != ErrDeleteNeedsYes {
		t.Fatalf("delete without --yes: %v; want ErrDeleteNeedsYes", err)
	}
	if _, err := f.c.Apply(context.Background(), &p, ApplyOptions{Machine: "other", Yes: true}); err == nil {
		t.Fatal("a plan for another machine was applied")
	}
	rep := f.apply(t, p, ApplyOptions{Yes: true})
	if rep.Applied != 1 {
		t.Fatalf("report = %+v; want v.bin deleted", rep)
	}
	if _, err := os.Lstat(f.path("v.bin")); !os.IsNotExist(err) {
		t.Fatal("v.bin still exists")
	}
	if row := catalogRow(t, f.c, f.path("v.bin")); row.Operation != dto.OpDel {
		t.Errorf("catalog row of v.bin is %s; want DEL", row.Operation)
	}
}

// TestDedupeDryRun: a dry run reports what the apply then does, line for
// line, and changes nothing.
func TestDedupeDryRun(t *testing.T) {
	for _, action := range []string{ActionHardlink, ActionDelete} {
		t.Run(action, func(t *testing.T) {
			f := newDedupeFixture(t, "keep.bin", "v1.bin", "v2.bin")
			p := f.plan(t, action, "oldest")
			if err := os.WriteFile(f.path("v2.bin"), []byte("changed"), 0o644); err != nil {
				t.Fatal(err)
			}
			var dry, real []DedupeEvent
			inode := inodeOf(t, f.path("v1.bin"))
			f.apply(t, p, ApplyOptions{Yes: true, DryRun: true, OnEvent: func(e DedupeEvent) { dry = append(dry, e) }})
			if inodeOf(t, f.path("v1.bin")) != inode {
				t.Fatal("the dry run changed v1.bin")
			}
			f.apply(t, p, ApplyOptions{Yes: true, OnEvent: func(e DedupeEvent) { real = append(real, e) }})
			if !slices.Equal(dry, real) || len(real) != 2 {
				t.Fatalf("dry run said %+v; apply did %+v", dry, real)
			}
		})
	}
}

// TestDedupeUpdatesDirectoryDigests: two identical directories stop being
// duplicates once a file of one is trashed, and are again after undo,
// without a rescan.
func TestDedupeUpdatesDirectoryDigests(t *testing.T) {
	f := newDedupeFixture(t, "one/a.bin", "two/a.bin")
	ctx := context.Background()
	dirGroups := func() int {
		gs, _, err := f.c.DupeDirs(ctx, DirDupesOptions{Machine: "m", Under: f.root})
		if err != nil {
			t.Fatal(err)
		}
		return len(gs)
	}
	if n := dirGroups(); n != 1 {
		t.Fatalf("%d duplicate directory groups before; want 1", n)
	}
	p := f.plan(t, ActionTrash, "under:"+f.path("one"))
	rep := f.apply(t, p, ApplyOptions{Trash: filepath.Join(t.TempDir(), "trash")})
	if rep.Applied != 1 {
		t.Fatalf("report = %+v", rep)
	}
	if n := dirGroups(); n != 0 {
		t.Errorf("%d duplicate directory groups after trashing two/a.bin; want 0", n)
	}
	if _, err := f.c.Undo(ctx, rep.Manifest, UndoOptions{Machine: "m"}); err != nil {
		t.Fatal(err)
	}
	if n := dirGroups(); n != 1 {
		t.Errorf("%d duplicate directory groups after undo; want 1", n)
	}
}
