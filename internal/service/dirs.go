package service

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

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
// Content: a multiset hash, LtHash (Bellare and Micciancio's LtHash as
// Lewi et al. made it practical, folly's LtHash<32, 1024>). Each file
// content of the subtree maps to a vector of 1024 lanes of 32 bits, 4096
// bytes of key stream under a BLAKE3 keyed hash of its sha256 (element);
// the directory's sum is the
// lane-wise sum, modulo 2^32, of its files' vectors and its
// subdirectories' sums, so a file counts as often as it occurs ({A,A,A,B}
// is not {A,B,B,B}, where an XOR would cancel pairs: multiplicities below
// 2^32 never wrap, and a subtree of 2^32 files or more has no content
// digest). The digest is BLAKE3 over (files, bytes, sum). A sum over the
// sorted list of sha256 would need the whole subtree's list for every
// ancestor of a change; the sum needs only the children's.
//
// Why so wide: the sum of schema versions 7 to 12, one 256-bit value per
// content added modulo 2^256 (AdHash), can be forged on purpose by anyone
// who can plant files: Wagner's generalized birthday attack finds two
// multisets of element values with the same sum in about 2^31 hashes. A
// collision of the lattice sum is a short solution of a random SIS
// instance of dimension 16384 bits, beyond reach (about 200 bits of
// security for folly's narrower LtHash<16, 1024>). The element key is
// public (derived from a fixed context, as the others): the hash holds
// without a secret, so catalogs compare their digests across merge,
// transfer and restore, and a reader of the catalog learns nothing that
// helps a forgery. See docs/dupes.md for the threat model.
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

// The content keys of schema version 13 are derived from kinds of their
// own, so that no content digest of the AdHash scheme before it can equal
// one of this scheme.
var treeKey, contentKey, elementKey = deriveKey("tree"), deriveKey("content lattice"), deriveKey("content lattice element")

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
type digester struct {
	tree, content, elem *blake3.Hasher
	vec                 [latticeBytes]byte // the last element
	treeInput           []byte             // reused by computeDir
}

func newDigester() *digester {
	return &digester{tree: keyed(treeKey), content: keyed(contentKey), elem: keyed(elementKey)}
}

// appendTreeEntry appends one entry of a directory to the input of its
// tree digest, which holds its entries in name order: uvarint(len(name))
// name kind digest, kind 'f' (a file), 'x' (a file its owner may execute)
// or 'd' (a subdirectory).
func appendTreeEntry(b, name []byte, kind byte, digest []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(name)))
	b = append(b, name...)
	b = append(b, kind)
	return append(b, digest...)
}

// treeDigest returns the tree digest of the entries appendTreeEntry wrote.
func (g *digester) treeDigest(entries []byte) []byte {
	g.tree.Reset()
	g.tree.Write(entries)
	return g.tree.Sum(nil)
}

// latticeLanes and latticeBytes are the size of a content sum.
const (
	latticeLanes = 1024
	latticeBytes = latticeLanes * 4
)

// lattice is a content sum: 1024 numbers modulo 2^32, each the sum of the
// same lane of the elements added, held two lanes a word (little-endian in
// bytes: lane i is bytes 4i to 4i+3).
type lattice [latticeLanes / 2]uint64

// laneTops are the top bits of both lanes of a word: adding (or
// subtracting) the words without them and putting them back by XOR keeps a
// carry (or borrow) from crossing into the next lane.
const laneTops = 0x8000_0000_8000_0000

// addLanes adds the two lanes of word y to those of word x.
func addLanes(x, y uint64) uint64 {
	return ((x &^ laneTops) + (y &^ laneTops)) ^ ((x ^ y) & laneTops)
}

func (s *lattice) add(b []byte) {
	b = b[:latticeBytes]
	for i := range s {
		s[i] = addLanes(s[i], binary.LittleEndian.Uint64(b[i*8:]))
	}
}

func (s *lattice) sub(b []byte) {
	b = b[:latticeBytes]
	for i := range s {
		x, y := s[i], binary.LittleEndian.Uint64(b[i*8:])
		s[i] = ((x | laneTops) - (y &^ laneTops)) ^ ((x ^ ^y) & laneTops)
	}
}

// addLattice adds o to s, as add does its bytes.
func (s *lattice) addLattice(o *lattice) {
	for i, y := range o {
		s[i] = addLanes(s[i], y)
	}
}

func (s *lattice) bytes() []byte {
	b := make([]byte, latticeBytes)
	s.put(b)
	return b
}

// put writes s into b[:latticeBytes].
func (s *lattice) put(b []byte) {
	b = b[:latticeBytes]
	for i, w := range s {
		binary.LittleEndian.PutUint64(b[i*8:], w)
	}
}

// element returns the lattice vector of the content sha256, valid until
// the next call: the AES-256-CTR key stream (zero IV) under the BLAKE3
// keyed hash of the sha256. BLAKE3's own extendable output would do as
// well, but zeebo/blake3 makes it one 64-byte block at a time, without
// SIMD: 4 to 6 times slower here than AES-NI.
func (g *digester) element(sha256 []byte) []byte {
	g.elem.Reset()
	g.elem.Write(sha256)
	var key [32]byte
	block, err := aes.NewCipher(g.elem.Sum(key[:0]))
	if err != nil {
		panic(err) // the key is 32 bytes
	}
	clear(g.vec[:])
	var iv [aes.BlockSize]byte
	cipher.NewCTR(block, iv[:]).XORKeyStream(g.vec[:], g.vec[:])
	return g.vec[:]
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
// the sum of the content values of those that have a sha256, as
// dirs.entries stores them.
type ownFiles struct {
	sum   lattice
	files []dto.DirFile // name in Path
}

// Flags of a file in dirs.entries.
const (
	entryHashed      = 1 // its sha256 follows
	entryExec        = 2
	entryExecUnknown = 4
)

// The first byte of dirs.entries: whether the sum of the directory's own
// files follows, or is its content sum (a directory without
// subdirectories that has one), which is not stored twice.
const (
	entriesSumShared = 0
	entriesSumOwn    = 1
)

// dirs.entries is entriesSumShared, or entriesSumOwn and the sum of the own
// files (latticeBytes), then one record per file, sorted by name (bytes):
// uvarint(len(name)) name uvarint(size), a byte of flags (entryHashed ...),
// and its sha256 if entryHashed.
var errMalformedEntries = errors.New("malformed directory entries")

// entriesHead is the room left at the start of a buffer of records for the
// first byte of dirs.entries and the own files' sum.
const entriesHead = 1 + latticeBytes

// appendRecord appends the record of f (name in Path) to b.
func appendRecord(b []byte, f dto.DirFile) []byte {
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
		return append(b, flags)
	}
	b = append(b, flags|entryHashed)
	return append(b, f.SHA256...)
}

// record is one file of dirs.entries, its fields slices of the record.
type record struct {
	name   []byte
	size   int64
	flags  byte
	sha256 []byte // nil unless entryHashed
	raw    []byte // the whole record
}

// nextRecord reads the record at the start of b and returns it with the
// rest of b.
func nextRecord(b []byte) (record, []byte, error) {
	var r record
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return r, nil, errMalformedEntries
	}
	r.name = b[k : k+int(n) : k+int(n)]
	rest := b[k+int(n):]
	size, k := binary.Uvarint(rest)
	if k <= 0 || len(rest) < k+1 {
		return r, nil, errMalformedEntries
	}
	r.size, r.flags = int64(size), rest[k]
	rest = rest[k+1:]
	if r.flags&^(entryHashed|entryExec|entryExecUnknown) != 0 {
		return r, nil, errMalformedEntries
	}
	if r.flags&entryHashed != 0 {
		if len(rest) < 32 {
			return r, nil, errMalformedEntries
		}
		r.sha256 = rest[:32:32]
		rest = rest[32:]
	}
	r.raw = b[: len(b)-len(rest) : len(b)-len(rest)]
	return r, rest, nil
}

// splitEntries returns the sum of the own files that e stores, with the
// directory's content sum beside it, and their records.
func splitEntries(e dto.DirEntries) (lattice, []byte, error) {
	var sum lattice
	b := e.Entries
	switch {
	case len(b) >= 1 && b[0] == entriesSumShared && len(e.ContentSum) == latticeBytes:
		sum.add(e.ContentSum)
		return sum, b[1:], nil
	case len(b) >= entriesHead && b[0] == entriesSumOwn:
		sum.add(b[1:])
		return sum, b[entriesHead:], nil
	}
	return sum, nil, errMalformedEntries
}

// decodeOwnFiles reads the files e stores.
func decodeOwnFiles(e dto.DirEntries) (ownFiles, error) {
	var o ownFiles
	sum, b, err := splitEntries(e)
	if err != nil {
		return o, err
	}
	o.sum = sum
	for len(b) > 0 {
		r, rest, err := nextRecord(b)
		if err != nil {
			return o, err
		}
		b = rest
		o.files = append(o.files, dto.DirFile{Path: string(r.name), Size: r.size, SHA256: r.sha256,
			Exec: r.flags&entryExec != 0, ExecUnknown: r.flags&entryExecUnknown != 0})
	}
	return o, nil
}

// mergeRecords appends to out the records (sorted by name) brought up to
// date with changes, the files written since they were stored (names in
// Path): a change replaces the record of its name or is added in its
// place, or removes it when Deleted; of several changes of one name, the
// last counts. It takes the content values of the files replaced or
// removed off sum and adds those of the files written. The records that
// do not change are copied as they are: a directory's update costs its
// changes, not its files. It sorts changes.
func (g *digester) mergeRecords(sum *lattice, records []byte, changes []dto.DirFile, out []byte) ([]byte, error) {
	slices.SortStableFunc(changes, func(a, b dto.DirFile) int { return strings.Compare(a.Path, b.Path) })
	for i, c := range changes {
		if i+1 < len(changes) && changes[i+1].Path == c.Path {
			continue // a later change of this name counts
		}
		for len(records) > 0 {
			r, rest, err := nextRecord(records)
			if err != nil {
				return nil, err
			}
			if string(r.name) > c.Path {
				break
			}
			records = rest
			if string(r.name) == c.Path {
				if r.sha256 != nil {
					sum.sub(g.element(r.sha256))
				}
				break
			}
			out = append(out, r.raw...)
		}
		if c.Deleted {
			continue
		}
		out = appendRecord(out, c)
		if len(c.SHA256) == 32 {
			sum.add(g.element(c.SHA256))
		}
	}
	return append(out, records...), nil
}

// dirWalk collects, on the walker goroutine, the directories a scan listed.
type dirWalk struct{ listed []string }

func (w *dirWalk) add(path string) { w.listed = append(w.listed, path) }

// dirDepth is how deep path lies: 0 for "/", 1 for "/a", 2 for "/a/b".
func dirDepth(path string) int {
	if path == "/" {
		return 0
	}
	return strings.Count(path, "/")
}

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
	// Paths as the catalog holds them (relative to a volume's top).
	for _, f := range s.rep.Failures {
		bad[filepath.Dir(s.cat(f.Path))] = true
		if outer, _, ok := strings.Cut(f.Path, "::"); ok {
			bad[filepath.Dir(s.cat(outer))] = true
		}
	}
	for _, k := range s.rep.Skips {
		if !strings.Contains(k.Path, "::") {
			bad[filepath.Dir(s.cat(k.Path))] = true
		}
	}
	listed := map[string]bool{}
	for _, p := range s.dirs.listed {
		listed[s.cat(p)] = true
	}
	old := map[string]dto.Dir{}
	for _, root := range outermost(s.rep.Roots) {
		ds, err := r.Dirs.Heads(ctx, machine, s.cat(root))
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
	// The directories under the roots as they are now, which recomputeDirs
	// then need not read again.
	heads := &dirHeads{known: make(map[string]dto.Dir, len(old)), parents: map[string]bool{}}
	for p, d := range old {
		if walked && !listed[p] {
			continue // removed
		}
		if bad[p] && !listed[p] {
			d.Complete = false
		}
		heads.known[p] = d
		heads.parents[d.Parent] = true
	}
	for _, m := range marks {
		if d, ok := heads.known[m.Path]; ok {
			d.Complete, d.ScanID = m.Complete, m.ScanID
			heads.known[m.Path] = d
		}
		heads.parents[m.Parent] = true
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
		changed[p] = changed[p] || present > 0
	}
	unsettled, err := r.Dirs.Unsettled(ctx, machine)
	if err != nil {
		return err
	}
	for _, p := range unsettled {
		changed[p] = changed[p] || false
	}
	if err := recomputeDirs(ctx, r, machine, changed, written, dirs, heads); err != nil {
		return err
	}
	return r.Dirs.ScansDone(ctx, scans)
}

// dirHeads are the directories a scan holds in memory at the end of its
// walk: those under its roots that the catalog held before it, as they are
// after it recorded what it listed (by path), and which directories under
// the roots, and of those listed, have subdirectories (by DirKey).
type dirHeads struct {
	known   map[string]dto.Dir
	parents map[string]bool
}

// head returns the directory at path if h knows it.
func (h *dirHeads) head(path string) (dto.Dir, bool) {
	if h == nil {
		return dto.Dir{}, false
	}
	d, ok := h.known[path]
	return d, ok
}

// mayHaveChildren reports whether the directory at path may have
// subdirectories: all of those of a directory h knows are known.
func (h *dirHeads) mayHaveChildren(path string) bool {
	if _, ok := h.head(path); !ok {
		return true
	}
	return h.parents[repo.DirKey(path)]
}

// recomputeDirs computes again the digests of the directories changed that
// the catalog holds and of all their ancestors it holds, deepest first. A
// changed directory the catalog does not hold (files written below a
// directory no scan listed, by a scan that died) makes its nearest held
// ancestor incomplete: its digests would leave those files out. changed maps
// each directory to whether it holds present files written by the scans,
// written to those files (names in Path), and present to how many present
// files the scans wrote in each (nil: none known). heads, when not nil, holds
// directories as they are in the catalog, which it does not read again.
func recomputeDirs(ctx context.Context, r *uow.Repos, machine string, changed map[string]bool, written map[string][]dto.DirFile, present map[string]int, heads *dirHeads) error {
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
		if _, ok := heads.head(p); !ok {
			paths = append(paths, p)
		}
	}
	held, err := r.Dirs.Get(ctx, machine, paths)
	if err != nil {
		return err
	}
	for p := range all {
		if d, ok := heads.head(p); ok {
			held[p] = d
		}
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
		if da, db := dirDepth(a.Path), dirDepth(b.Path); da != db {
			return db - da
		}
		return strings.Compare(a.Path, b.Path)
	})
	paths = paths[:0]
	for _, d := range todo {
		if heads.mayHaveChildren(d.Path) {
			paths = append(paths, d.Path)
		}
	}
	kids, err := r.Dirs.ChildrenOf(ctx, machine, paths)
	if err != nil {
		return err
	}
	// The content sums of the subdirectories: those computed again come
	// from their computation, the others' are read.
	computed := make(map[int64]bool, len(todo))
	for _, d := range todo {
		computed[d.ID] = true
	}
	var unchanged []int64
	for _, subs := range kids {
		for _, c := range subs {
			if !computed[c.ID] {
				unchanged = append(unchanged, c.ID)
			}
		}
	}
	sums, err := r.Dirs.ContentSums(ctx, unchanged)
	if err != nil {
		return err
	}
	for _, subs := range kids {
		for i := range subs {
			if !computed[subs[i].ID] {
				subs[i].ContentSum = sums[subs[i].ID]
			}
		}
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
		var ahead map[string][]dto.DirFile
		for i, d := range chunk {
			var e *dto.DirEntries
			var files []dto.DirFile
			if s, ok := stored[d.ID]; ok {
				e = &s
			} else {
				var read bool
				if files, read = ahead[d.Path]; !read {
					if ahead, err = readOwnFiles(ctx, r, machine, chunk[i:], stored, present); err != nil {
						return err
					}
					files = ahead[d.Path]
				}
				delete(ahead, d.Path)
			}
			d, err := computeDir(ctx, g, w, d, e, files, kids[repo.DirKey(d.Path)], written[d.Path])
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

// ownFilesBatch bounds the rows one query of readOwnFiles reads, as
// ownFilesAtMost counts them.
var ownFilesBatch = 20000 // a variable for tests

// readOwnFiles reads the rows of the files of the first directories of
// dirs that have no entries stored, several directories a query (one query
// per directory was a round trip per directory of a first scan: 1,011 of
// them for 100,000 files). It returns their files by path, with every
// directory it read present, empty or not. It stops at ownFilesBatch files
// in them (by ownFilesAtMost), after the first directory: a directory can be
// large. present is how many present files the scans wrote in each
// directory: the files of a directory without stored entries are not kept
// in memory (updateDirsTx), so their count is all the scan knows of them.
func readOwnFiles(ctx context.Context, r *uow.Repos, machine string, dirs []dto.Dir, stored map[int64]dto.DirEntries, present map[string]int) (map[string][]dto.DirFile, error) {
	var paths []string
	n := 0
	for _, d := range dirs {
		if _, ok := stored[d.ID]; ok {
			continue
		}
		m := ownFilesAtMost(d, present)
		if len(paths) > 0 && n+m > ownFilesBatch {
			break
		}
		paths = append(paths, d.Path)
		n += m
	}
	files, err := r.Dirs.FilesIn(ctx, machine, paths)
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		if _, ok := files[p]; !ok {
			files[p] = nil
		}
	}
	return files, nil
}

// ownFilesAtMost is what readOwnFiles expects d's own files to number: the
// present files the scans wrote in it, plus the files its last digests
// counted (its subtree's too: more than its own, never fewer, unless rows
// changed outside a scan).
func ownFilesAtMost(d dto.Dir, present map[string]int) int {
	return present[d.Path] + int(d.Files)
}

// computeDir computes d's size, file count and digests from its own files
// and its subdirectories subs, stores them and returns d with them. Its own
// files are those stored with its last digests, brought up to date with
// written (the files in it the scans wrote); a directory that has none
// stored has the rows of all its files in files.
func computeDir(ctx context.Context, g *digester, w *repo.DigestWriter, d dto.Dir, stored *dto.DirEntries, files []dto.DirFile, subs []dto.Dir, written []dto.DirFile) (dto.Dir, error) {
	own, buf, err := ownRecords(g, d, stored, files, written)
	if err != nil {
		return d, err
	}
	slices.SortFunc(subs, func(a, b dto.Dir) int { return strings.Compare(filepath.Base(a.Path), filepath.Base(b.Path)) })
	// Both digests need every entry held in full; the tree digest also
	// every file's executable bit and every subdirectory's tree digest.
	contentOK := d.Complete
	treeOK := true
	sum := own
	tree := g.treeInput[:0]
	d.Size, d.Files = 0, 0
	k := 0
	addSub := func(c dto.Dir) {
		d.Size += c.Size
		d.Files += c.Files
		contentOK = contentOK && len(c.ContentSum) == latticeBytes
		treeOK = treeOK && c.Tree != nil
		tree = appendTreeEntry(tree, []byte(filepath.Base(c.Path)), 'd', c.Tree)
		if len(c.ContentSum) == latticeBytes {
			sum.add(c.ContentSum)
		}
	}
	for b := buf[entriesHead:]; len(b) > 0; {
		f, rest, err := nextRecord(b)
		if err != nil {
			return d, fmt.Errorf("read the files of directory %s: %w", d.Path, err)
		}
		b = rest
		for ; k < len(subs) && filepath.Base(subs[k].Path) < string(f.name); k++ {
			addSub(subs[k])
		}
		d.Size += f.size
		d.Files++
		contentOK = contentOK && f.sha256 != nil
		treeOK = treeOK && f.flags&entryExecUnknown == 0
		kind := byte('f')
		if f.flags&entryExec != 0 {
			kind = 'x'
		}
		tree = appendTreeEntry(tree, f.name, kind, f.sha256)
	}
	for ; k < len(subs); k++ {
		addSub(subs[k])
	}
	g.treeInput = tree
	d.Tree, d.Content, d.ContentSum = nil, nil, nil
	// 2^32 copies of a content would add nothing to the sum.
	if contentOK && d.Files < 1<<32 {
		d.ContentSum = sum.bytes()
		d.Content = g.contentDigest(d.Files, d.Size, d.ContentSum)
		if treeOK {
			d.Tree = g.treeDigest(tree)
		}
	}
	// Without subdirectories, a content sum is the own files' sum.
	var entries []byte
	if len(subs) == 0 && d.ContentSum != nil {
		entries = buf[entriesHead-1:]
		entries[0] = entriesSumShared
	} else {
		entries = buf
		entries[0] = entriesSumOwn
		own.put(entries[1:])
	}
	return d, w.Set(ctx, d, entries)
}

// ownRecords returns the sum of d's own files and their records, sorted
// by name, after entriesHead bytes left for the caller: those stored with
// its digests brought up to date with written, or, when none are stored,
// files, read from the rows.
func ownRecords(g *digester, d dto.Dir, stored *dto.DirEntries, files []dto.DirFile, written []dto.DirFile) (lattice, []byte, error) {
	if stored != nil {
		sum, records, err := splitEntries(*stored)
		if err == nil {
			buf := make([]byte, entriesHead, entriesHead+len(records)+len(written)*64)
			buf, err = g.mergeRecords(&sum, records, written, buf)
			if err == nil {
				return sum, buf, nil
			}
		}
		return sum, nil, fmt.Errorf("read the files of directory %s: %w", d.Path, err)
	}
	slices.SortFunc(files, func(a, b dto.DirFile) int { return strings.Compare(a.Path, b.Path) })
	buf := make([]byte, entriesHead, entriesHead+len(files)*48)
	for _, f := range files {
		buf = appendRecord(buf, f)
	}
	return g.sumOf(files), buf, nil
}

// parallelSumFiles is how many files a directory has at least for sumOf to
// share them out among the CPUs.
const parallelSumFiles = 256

// sumOf returns the sum of the content values of those of files that have a
// sha256. A content value is a 4 KiB keystream: most of the CPU of a first
// scan's directory digests (1,000,000 files: 1.9 s of 5.5 s), so a large
// directory's files are shared out among the CPUs, each part summed with a
// digester of its own, and the parts added (the sum is commutative).
func (g *digester) sumOf(files []dto.DirFile) lattice {
	sumPart := func(g *digester, files []dto.DirFile) (sum lattice) {
		for _, f := range files {
			if len(f.SHA256) == 32 {
				sum.add(g.element(f.SHA256))
			}
		}
		return sum
	}
	n := min(runtime.GOMAXPROCS(0), len(files)/(parallelSumFiles/2))
	if n < 2 {
		return sumPart(g, files)
	}
	parts := make([]lattice, n)
	var wg sync.WaitGroup
	for i := 1; i < n; i++ {
		wg.Go(func() { parts[i] = sumPart(newDigester(), files[i*len(files)/n:(i+1)*len(files)/n]) })
	}
	sum := sumPart(g, files[:len(files)/n])
	wg.Wait()
	for i := 1; i < n; i++ {
		sum.addLattice(&parts[i])
	}
	return sum
}
