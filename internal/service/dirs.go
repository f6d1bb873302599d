package service

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"path/filepath"
	"slices"
	"strings"

	"github.com/zeebo/blake3"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/repo"
	"github.com/indexer/indexer/internal/uow"
)

// Directory digests (see migrations/0007_dirs.sql).
//
// A directory's digests are computed from its entries' rows alone, never by
// reading a file: a plain file's sha256, a subdirectory's digests. Each
// digest kind has its own BLAKE3 key, derived from one context string, so
// that no value of one kind can be taken for another.
//
// Tree: BLAKE3 over the entries sorted by name (bytes), each as
// uvarint(len(name)) name kind digest, kind 'f' with the file's sha256,
// 'x' with the sha256 of a file its owner may execute, or 'd' with the
// subdirectory's tree digest. A directory holding a file whose executable
// bit the catalog does not record (catalogued before it did) has no tree
// digest.
//
// Content: a multiset hash. Each file content of the subtree maps to a
// 256-bit value, BLAKE3 keyed over its sha256; the directory's sum is the
// sum of its files' values and its subdirectories' sums, modulo 2^256, so a
// file counts as often as it occurs ({A,A,A,B} is not {A,B,B,B}, where an
// XOR would cancel pairs). The digest is BLAKE3 over (files, bytes, sum).
// A sum over the sorted list of sha256 would need the whole subtree's list
// for every ancestor of a change; the sum needs only the children's.
//
// A directory has no digests when it is not complete (its last listing
// did not hold every entry in full), when a directory below it has none,
// or when a file in it has no sha256.
//
// Updates: each directory keeps its own files as its digests saw them
// (name, size, sha256, in dirs.entries, with the sum of their content
// values), so a rescan brings a directory up to date from the rows it
// wrote alone: it replaces those entries and adjusts the sum by their old
// and new values, and never reads the rows of the files that did not
// change. The tree digest is then hashed again over the entries.
const digestContext = "github.com/indexer/indexer 2026-12 directory digests v1"

var treeKey, contentKey, elementKey = deriveKey("tree"), deriveKey("content"), deriveKey("content element")

func deriveKey(kind string) []byte {
	k := make([]byte, 32)
	blake3.DeriveKey(digestContext, []byte(kind), k)
	return k
}

func keyed(key []byte) *blake3.Hasher {
	h, err := blake3.NewKeyed(key)
	if err != nil {
		panic(err) // the keys are 32 bytes
	}
	return h
}

// digester computes directory digests. It keeps one hasher per key, since
// making a keyed hasher costs far more than hashing a file's 32 bytes.
// Not safe for concurrent use.
type digester struct{ tree, content, elem *blake3.Hasher }

func newDigester() *digester {
	return &digester{tree: keyed(treeKey), content: keyed(contentKey), elem: keyed(elementKey)}
}

// dirEntry is one entry of a directory for its tree digest.
type dirEntry struct {
	name   string
	dir    bool
	exec   bool // a file its owner may execute
	digest []byte
}

func (g *digester) treeDigest(entries []dirEntry) []byte {
	slices.SortFunc(entries, func(a, b dirEntry) int { return strings.Compare(a.name, b.name) })
	h := g.tree
	h.Reset()
	var n [binary.MaxVarintLen64]byte
	for _, e := range entries {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(e.name)))])
		h.WriteString(e.name)
		switch {
		case e.dir:
			h.Write([]byte{'d'})
		case e.exec:
			h.Write([]byte{'x'})
		default:
			h.Write([]byte{'f'})
		}
		h.Write(e.digest)
	}
	return h.Sum(nil)
}

// sum256 is a number modulo 2^256, little-endian words.
type sum256 [4]uint64

func (s *sum256) add(b []byte) {
	var carry uint64
	for i := range s {
		s[i], carry = bits.Add64(s[i], binary.LittleEndian.Uint64(b[i*8:]), carry)
	}
}

func (s *sum256) sub(b []byte) {
	var borrow uint64
	for i := range s {
		s[i], borrow = bits.Sub64(s[i], binary.LittleEndian.Uint64(b[i*8:]), borrow)
	}
}

func (s *sum256) bytes() []byte {
	b := make([]byte, 32)
	for i, w := range s {
		binary.LittleEndian.PutUint64(b[i*8:], w)
	}
	return b
}

func (g *digester) element(sha256 []byte) []byte {
	g.elem.Reset()
	g.elem.Write(sha256)
	var b [32]byte
	return g.elem.Sum(b[:0])
}

func (g *digester) contentDigest(files, size int64, sum []byte) []byte {
	h := g.content
	h.Reset()
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(files))])
	h.Write(n[:binary.PutUvarint(n[:], uint64(size))])
	h.Write(sum)
	return h.Sum(nil)
}

// ownFiles are the plain files right in a directory, sorted by name, with
// the sum of the content values of those that have a sha256.
type ownFiles struct {
	sum   sum256
	files []dto.DirFile // name in Path
}

// set makes f (name in Path) one of the files, replacing the one of that
// name, or removes the one of that name when f is Deleted. The files must
// be sorted again after.
func (o *ownFiles) set(g *digester, byName map[string]int, f dto.DirFile) {
	if i, ok := byName[f.Path]; ok {
		if old := o.files[i]; len(old.SHA256) == 32 {
			o.sum.sub(g.element(old.SHA256))
		}
		if f.Deleted {
			o.files[i].Deleted = true
			return
		}
		o.files[i] = f
	} else {
		if f.Deleted {
			return
		}
		byName[f.Path] = len(o.files)
		o.files = append(o.files, f)
	}
	if len(f.SHA256) == 32 {
		o.sum.add(g.element(f.SHA256))
	}
}

// apply brings o up to date with changes, the files written since it was
// stored (name in Path).
func (o *ownFiles) apply(g *digester, changes []dto.DirFile) {
	if len(changes) == 0 {
		return
	}
	byName := make(map[string]int, len(o.files))
	for i, f := range o.files {
		byName[f.Path] = i
	}
	for _, f := range changes {
		o.set(g, byName, f)
	}
	o.files = slices.DeleteFunc(o.files, func(f dto.DirFile) bool { return f.Deleted })
	slices.SortFunc(o.files, func(a, b dto.DirFile) int { return strings.Compare(a.Path, b.Path) })
}

// Flags of a file in dirs.entries.
const (
	entryHashed      = 1 // its sha256 follows
	entryExec        = 2
	entryExecUnknown = 4
)

// encode returns o as dirs.entries stores it: the sum (32 bytes), then per
// file uvarint(len(name)) name uvarint(size), a byte of flags (entryHashed
// ...), and its sha256 if entryHashed.
func (o *ownFiles) encode() []byte {
	b := make([]byte, 0, 32+len(o.files)*48)
	b = append(b, o.sum.bytes()...)
	for _, f := range o.files {
		b = binary.AppendUvarint(b, uint64(len(f.Path)))
		b = append(b, f.Path...)
		b = binary.AppendUvarint(b, uint64(f.Size))
		var flags byte
		if f.Exec {
			flags |= entryExec
		}
		if f.ExecUnknown {
			flags |= entryExecUnknown
		}
		if len(f.SHA256) != 32 {
			b = append(b, flags)
			continue
		}
		b = append(b, flags|entryHashed)
		b = append(b, f.SHA256...)
	}
	return b
}

func decodeOwnFiles(b []byte) (ownFiles, error) {
	var o ownFiles
	bad := errors.New("malformed directory entries")
	if len(b) < 32 {
		return o, bad
	}
	o.sum.add(b[:32])
	b = b[32:]
	for len(b) > 0 {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return o, bad
		}
		f := dto.DirFile{Path: string(b[k : k+int(n)])}
		b = b[k+int(n):]
		size, k := binary.Uvarint(b)
		if k <= 0 || len(b) < k+1 {
			return o, bad
		}
		f.Size = int64(size)
		flags := b[k]
		b = b[k+1:]
		if flags&^(entryHashed|entryExec|entryExecUnknown) != 0 {
			return o, bad
		}
		f.Exec, f.ExecUnknown = flags&entryExec != 0, flags&entryExecUnknown != 0
		if flags&entryHashed != 0 {
			if len(b) < 32 {
				return o, bad
			}
			f.SHA256 = b[:32:32]
			b = b[32:]
		}
		o.files = append(o.files, f)
	}
	return o, nil
}

// dirWalk collects, on the walker goroutine, the directories a scan listed.
type dirWalk struct{ listed []string }

func (w *dirWalk) add(path string) { w.listed = append(w.listed, path) }

// parentKey is the Parent of a directory row.
func parentKey(path string) string {
	if path == "/" {
		return ""
	}
	return repo.DirKey(filepath.Dir(path))
}

// updateDirs brings the catalog's directories up to date at the end of a
// scan: the directories it listed are recorded, complete or not, those it
// no longer found are removed (after a complete walk only), and the digests
// of every directory whose subtree changed are computed again, bottom-up,
// from the rows of its entries. "Changed" is known without reading the
// subtree: the directories of the files written by this scan (and by scans
// that died before doing this), the directories recorded, removed or whose
// completeness changed, and all their ancestors. It runs in one transaction;
// a failure is a warning: the next scan of the machine does the work.
func (s *scanRun) updateDirs(ctx context.Context, walked bool) {
	err := s.uow.Do(ctx, "scan.dirs", func(ctx context.Context, r *uow.Repos) error {
		return s.updateDirsTx(ctx, r, walked)
	})
	if err != nil {
		s.c.log.Warn("could not bring the directory digests up to date; the next scan will", "err", err)
	}
}

func (s *scanRun) updateDirsTx(ctx context.Context, r *uow.Repos, walked bool) error {
	machine := s.opts.Machine
	// Directories with an entry that is not held in full: failed (an
	// unreadable directory, file or archive) or skipped (excluded, special,
	// symlink, ...). An archive's entries are not part of digests: a skip
	// inside one (encrypted) does not count, a failure in one counts for
	// the archive, which is.
	bad := map[string]bool{}
	for _, f := range s.rep.Failures {
		bad[filepath.Dir(f.Path)] = true
		if outer, _, ok := strings.Cut(f.Path, "::"); ok {
			bad[filepath.Dir(outer)] = true
		}
	}
	for _, k := range s.rep.Skips {
		if !strings.Contains(k.Path, "::") {
			bad[filepath.Dir(k.Path)] = true
		}
	}
	listed := map[string]bool{}
	for _, p := range s.dirs.listed {
		listed[p] = true
	}
	old := map[string]dto.Dir{}
	for _, root := range outermost(s.rep.Roots) {
		ds, err := r.Dirs.Under(ctx, machine, root)
		if err != nil {
			return err
		}
		for _, d := range ds {
			old[d.Path] = d
		}
	}
	// changed: directory → whether the catalog must hold it (its files
	// are present); see recomputeDirs.
	changed := map[string]bool{}
	var marks []dto.Dir
	for p := range listed {
		// An interrupted scan may not have handled every entry it listed.
		complete := walked && !bad[p]
		if o, ok := old[p]; ok && o.Complete == complete {
			continue // a rescan of an unchanged tree writes no directory
		}
		changed[p] = true
		marks = append(marks, dto.Dir{Machine: machine, Path: p, Parent: parentKey(p), Complete: complete, ScanID: s.rep.ID})
	}
	slices.SortFunc(marks, func(a, b dto.Dir) int { return strings.Compare(a.Path, b.Path) })
	if err := r.Dirs.Mark(ctx, marks); err != nil {
		return err
	}
	for p := range bad {
		if !listed[p] {
			// Not listed by this scan (the parent of a root that failed):
			// whatever the catalog holds of it is not whole any more.
			if err := r.Dirs.SetIncomplete(ctx, machine, p); err != nil {
				return err
			}
			if _, ok := changed[p]; !ok {
				changed[p] = false
			}
		}
	}
	if walked {
		var gone []int64
		for p, d := range old {
			if !listed[p] {
				gone = append(gone, d.ID)
				if _, ok := changed[filepath.Dir(p)]; !ok {
					changed[filepath.Dir(p)] = false
				}
			}
		}
		if err := r.Dirs.Delete(ctx, gone); err != nil {
			return err
		}
	}
	scans, err := r.Dirs.PendingScans(ctx, machine, s.rep.ID)
	if err != nil {
		return err
	}
	// The files written are kept only for the directories with stored
	// entries, those that need them: a first scan holds none in memory.
	stored, err := r.Dirs.WithEntries(ctx, machine)
	if err != nil {
		return err
	}
	dirs, written, err := r.Dirs.ChangedFiles(ctx, machine, scans, stored)
	if err != nil {
		return err
	}
	for p, present := range dirs {
		changed[p] = changed[p] || present
	}
	unsettled, err := r.Dirs.Unsettled(ctx, machine)
	if err != nil {
		return err
	}
	for _, p := range unsettled {
		changed[p] = changed[p] || false
	}
	if err := recomputeDirs(ctx, r, machine, changed, written); err != nil {
		return err
	}
	return r.Dirs.ScansDone(ctx, scans)
}

// recomputeDirs computes again the digests of the directories changed that
// the catalog holds and of all their ancestors it holds, deepest first. A
// changed directory the catalog does not hold (files written below a
// directory no scan listed, by a scan that died) makes its nearest held
// ancestor incomplete: its digests would leave those files out. changed maps
// each directory to whether it holds present files written by the scans,
// written to those files (names in Path).
func recomputeDirs(ctx context.Context, r *uow.Repos, machine string, changed map[string]bool, written map[string][]dto.DirFile) error {
	all := map[string]bool{}
	for p := range changed {
		for q := p; ; q = filepath.Dir(q) {
			if all[q] {
				break
			}
			all[q] = true
			if q == "/" || q == "." {
				break
			}
		}
	}
	paths := make([]string, 0, len(all))
	for p := range all {
		paths = append(paths, p)
	}
	held, err := r.Dirs.Get(ctx, machine, paths)
	if err != nil {
		return err
	}
	for p, present := range changed {
		if _, ok := held[p]; ok || !present {
			continue
		}
		for q := filepath.Dir(p); ; q = filepath.Dir(q) {
			if d, ok := held[q]; ok {
				if err := r.Dirs.SetIncomplete(ctx, machine, q); err != nil {
					return err
				}
				d.Complete = false
				held[q] = d
				break
			}
			if q == "/" || q == "." {
				break
			}
		}
	}
	todo := make([]dto.Dir, 0, len(held))
	for _, d := range held {
		todo = append(todo, d)
	}
	// Deepest first: a directory's children are done before it.
	slices.SortFunc(todo, func(a, b dto.Dir) int {
		if da, db := strings.Count(a.Path, "/"), strings.Count(b.Path, "/"); da != db {
			return db - da
		}
		return strings.Compare(a.Path, b.Path)
	})
	paths = paths[:0]
	for _, d := range todo {
		paths = append(paths, d.Path)
	}
	kids, err := r.Dirs.ChildrenOf(ctx, machine, paths)
	if err != nil {
		return err
	}
	w, err := r.Dirs.DigestWriter(ctx)
	if err != nil {
		return err
	}
	defer w.Close()
	g := newDigester()
	// The stored entries are read a chunk of directories at a time: a
	// directory's can be large.
	for start := 0; start < len(todo); start += repo.ChunkSize {
		chunk := todo[start:min(start+repo.ChunkSize, len(todo))]
		ids := make([]int64, len(chunk))
		for i, d := range chunk {
			ids[i] = d.ID
		}
		stored, err := r.Dirs.Entries(ctx, ids)
		if err != nil {
			return err
		}
		for _, d := range chunk {
			d, err := computeDir(ctx, r, g, w, d, stored[d.ID], kids[repo.DirKey(d.Path)], written[d.Path])
			if err != nil {
				return err
			}
			// Its parent, later in todo, sees it as computed.
			siblings := kids[d.Parent]
			for i := range siblings {
				if siblings[i].ID == d.ID {
					siblings[i] = d
				}
			}
		}
	}
	return nil
}

// computeDir computes d's size, file count and digests from its own files
// and its subdirectories subs, stores them and returns d with them. Its own files are those
// stored with its last digests, brought up to date with written (the files
// in it the scans wrote); a directory that has none stored reads the rows
// of all its files.
func computeDir(ctx context.Context, r *uow.Repos, g *digester, w *repo.DigestWriter, d dto.Dir, stored []byte, subs []dto.Dir, written []dto.DirFile) (dto.Dir, error) {
	own, err := ownFilesOf(ctx, r, g, d, stored, written)
	if err != nil {
		return d, err
	}
	// Both digests need every entry held in full; the tree digest also
	// every file's executable bit and every subdirectory's tree digest.
	contentOK := d.Complete
	treeOK := true
	entries := make([]dirEntry, 0, len(own.files)+len(subs))
	sum := own.sum
	d.Size, d.Files = 0, 0
	for _, f := range own.files {
		d.Size += f.Size
		d.Files++
		contentOK = contentOK && len(f.SHA256) == 32
		treeOK = treeOK && !f.ExecUnknown
		entries = append(entries, dirEntry{name: f.Path, exec: f.Exec, digest: f.SHA256})
	}
	for _, c := range subs {
		d.Size += c.Size
		d.Files += c.Files
		contentOK = contentOK && len(c.ContentSum) == 32
		treeOK = treeOK && c.Tree != nil
		entries = append(entries, dirEntry{name: filepath.Base(c.Path), dir: true, digest: c.Tree})
		if len(c.ContentSum) == 32 {
			sum.add(c.ContentSum)
		}
	}
	d.Tree, d.Content, d.ContentSum = nil, nil, nil
	if contentOK {
		d.ContentSum = sum.bytes()
		d.Content = g.contentDigest(d.Files, d.Size, d.ContentSum)
		if treeOK {
			d.Tree = g.treeDigest(entries)
		}
	}
	return d, w.Set(ctx, d, own.encode())
}

// ownFilesOf returns d's own files: those stored with its digests brought
// up to date with written, or, when none are stored, read from the rows.
func ownFilesOf(ctx context.Context, r *uow.Repos, g *digester, d dto.Dir, stored []byte, written []dto.DirFile) (ownFiles, error) {
	if stored != nil {
		own, err := decodeOwnFiles(stored)
		if err != nil {
			return ownFiles{}, fmt.Errorf("read the files of directory %s: %w", d.Path, err)
		}
		own.apply(g, written)
		return own, nil
	}
	files, err := r.Dirs.Files(ctx, d.Machine, d.Path)
	if err != nil {
		return ownFiles{}, err
	}
	own := ownFiles{files: make([]dto.DirFile, 0, len(files))}
	for _, f := range files {
		own.files = append(own.files, dto.DirFile{Path: f.Path, Size: f.Size, SHA256: f.SHA256, Exec: f.Exec, ExecUnknown: f.ExecUnknown})
		if len(f.SHA256) == 32 {
			own.sum.add(g.element(f.SHA256))
		}
	}
	slices.SortFunc(own.files, func(a, b dto.DirFile) int { return strings.Compare(a.Path, b.Path) })
	return own, nil
}
