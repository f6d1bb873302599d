package service

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/dbtest"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/uow"
)

// TestDirsUpdateReadsOnlyChangedRows proves that a rescan brings a
// directory's digests up to date from the rows it wrote, not from the rows
// of every file in the directory: a row the rescan did not write is altered
// behind the catalog's back, and the digests still describe the files as
// they were scanned (a recomputation from all the rows would take the
// altered sha256).
func TestDirsUpdateReadsOnlyChangedRows(t *testing.T) {
	base := t.TempDir()
	tree(t, base, map[string]string{"a/x": "X", "a/y": "Y", "a/s/z": "Z"})
	c := openTestCatalog(t)
	mustScan(t, c, []string{base}, ScanOptions{})
	forged := sha256.Sum256([]byte("forged"))
	err := c.DB().WithWrite(func(w *sqlx.DB) error {
		_, err := w.Exec("UPDATE files SET sha256 = ? WHERE path = ?", forged[:], filepath.Join(base, "a/y"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(base, "a/x"), []byte("X2"))
	outOfRacyWindow()
	mustScan(t, c, []string{base}, ScanOptions{})

	fresh := openTestCatalog(t)
	mustScan(t, fresh, []string{base}, ScanOptions{})
	a := filepath.Join(base, "a")
	got, want := dumpDirs(t, c, "m1", base)[a], dumpDirs(t, fresh, "m1", base)[a]
	if !dirsEqual(got, want) {
		t.Fatalf("after the rescan, %s is %+v; want %+v, the digests of the files scanned (the unchanged row was read again)", a, got, want)
	}
}

// TestDigesterReusesKeyedHashers proves that the digester's reused hashers
// give what a keyed hasher made for each value gives.
func TestDigesterReusesKeyedHashers(t *testing.T) {
	g := newDigester()
	rng := rand.New(rand.NewPCG(1, 2))
	for range 5 {
		var sum [32]byte
		for i := range sum {
			sum[i] = byte(rng.UintN(256))
		}
		h := keyed(elementKey)
		h.Write(sum[:])
		block, err := aes.NewCipher(h.Sum(nil))
		if err != nil {
			t.Fatal(err)
		}
		want := make([]byte, latticeBytes)
		cipher.NewCTR(block, make([]byte, aes.BlockSize)).XORKeyStream(want, make([]byte, latticeBytes))
		if got := g.element(sum[:]); !bytes.Equal(got, want) {
			t.Fatalf("element %x, want %x", got[:32], want[:32])
		}
		h = keyed(treeKey)
		h.Write([]byte{1, 'n', 'f'})
		h.Write(sum[:])
		if got, want := g.treeDigest(appendTreeEntry(nil, []byte("n"), 'f', sum[:])), h.Sum(nil); !bytes.Equal(got, want) {
			t.Fatalf("tree %x, want %x", got, want)
		}
	}
}

// TestLatticeSubUndoesAdd proves that sub takes back what add added,
// each lane wrapping modulo 2^32 on its own.
func TestLatticeSubUndoesAdd(t *testing.T) {
	var s lattice
	ones := bytes.Repeat([]byte{0xff}, latticeBytes)
	one := make([]byte, latticeBytes)
	for i := 0; i < latticeBytes; i += 4 {
		one[i] = 1
	}
	s.add(ones)
	s.add(one) // every lane wraps to 0, carrying nothing into the next
	if s != (lattice{}) {
		t.Fatalf("2^32-1 + 1 = %x, want 0 in every lane", s.bytes()[:16])
	}
	s.sub(one) // every lane borrows
	if !bytes.Equal(s.bytes(), ones) {
		t.Fatalf("0 - 1 = %x, want 2^32-1 in every lane", s.bytes()[:16])
	}
	// Against lane by lane arithmetic, on random vectors.
	rng := rand.New(rand.NewPCG(3, 4))
	var got lattice
	var want [latticeLanes]uint32
	for round := range 20 {
		v := make([]byte, latticeBytes)
		for i := range v {
			v[i] = byte(rng.UintN(256))
		}
		for i := range want {
			if round%3 == 2 {
				want[i] -= binary.LittleEndian.Uint32(v[i*4:])
			} else {
				want[i] += binary.LittleEndian.Uint32(v[i*4:])
			}
		}
		if round%3 == 2 {
			got.sub(v)
		} else {
			got.add(v)
		}
	}
	b := got.bytes()
	for i, w := range want {
		if g := binary.LittleEndian.Uint32(b[i*4:]); g != w {
			t.Fatalf("lane %d is %#x, want %#x", i, g, w)
		}
	}
}

// TestDirsExecutableBit proves that the executable bit is part of the tree
// digest and not of the content digest: two trees identical but for one
// file's x bit are not the same tree, and hold the same files; a chmod seen
// by a rescan makes them the same tree again.
func TestDirsExecutableBit(t *testing.T) {
	base := t.TempDir()
	tree(t, base, map[string]string{"a/run": "#!/bin/sh\n", "a/s/data": "D", "b/run": "#!/bin/sh\n", "b/s/data": "D"})
	if err := os.Chmod(filepath.Join(base, "a/run"), 0o755); err != nil {
		t.Fatal(err)
	}
	c := openTestCatalog(t)
	mustScan(t, c, []string{base}, ScanOptions{})
	sameGroups(t, "tree", dirGroups(t, c, base, DirDupesOptions{MinSize: 1}), [][]string{{"a/s", "b/s"}})
	sameGroups(t, "content", dirGroups(t, c, base, DirDupesOptions{MinSize: 1, Content: true}), [][]string{{"a", "b"}})

	if err := os.Chmod(filepath.Join(base, "b/run"), 0o744); err != nil {
		t.Fatal(err)
	}
	outOfRacyWindow()
	mustScan(t, c, []string{base}, ScanOptions{})
	sameGroups(t, "tree after chmod", dirGroups(t, c, base, DirDupesOptions{MinSize: 1}), [][]string{{"a", "b"}})
}

// TestDirsExecutableBitUnknown proves that a directory holding a file
// whose executable bit the catalog does not record (a row written before
// schema version 9) has a content digest and no tree digest, nor has any
// directory above it.
func TestDirsExecutableBitUnknown(t *testing.T) {
	base := t.TempDir()
	tree(t, base, map[string]string{"a/s/old": "O", "a/s/new": "N", "b/s/old": "O", "b/s/new": "N"})
	outOfRacyWindow() // or the rescan reads them all again
	c := openTestCatalog(t)
	mustScan(t, c, []string{base}, ScanOptions{})
	// As migration 0009 leaves a catalog: no bit, no stored entries.
	err := c.DB().WithWrite(func(w *sqlx.DB) error {
		if _, err := w.Exec("UPDATE files SET exec = NULL WHERE path = ?", filepath.Join(base, "a/s/old")); err != nil {
			return err
		}
		_, err := w.Exec("UPDATE dirs SET entries = NULL")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"a", "b"} {
		writeFile(t, filepath.Join(base, d, "s/new"), []byte("N2"))
	}
	outOfRacyWindow()
	mustScan(t, c, []string{base}, ScanOptions{})
	dirs := dumpDirs(t, c, "m1", base)
	for _, rel := range []string{"a/s", "a", "."} {
		if d := dirs[filepath.Join(base, rel)]; d.Tree != nil || d.Content == nil {
			t.Errorf("%s: tree %x, content %x; want no tree digest and a content digest", rel, d.Tree, d.Content)
		}
	}
	sameGroups(t, "tree", dirGroups(t, c, base, DirDupesOptions{MinSize: 1}), nil)
	sameGroups(t, "content", dirGroups(t, c, base, DirDupesOptions{MinSize: 1, Content: true}), [][]string{{"a", "b"}})
}

// TestDirsAcceptedContent proves that a content taken as good by verify
// --accept (bit rot: the file changed without its stat) enters its
// directory's digests at the next scan, which finds the file unchanged and
// writes no row of it.
func TestDirsAcceptedContent(t *testing.T) {
	base := t.TempDir()
	tree(t, base, map[string]string{"a/f1": "A", "a/f2": "B", "c/f1": "Z", "c/f2": "B"})
	outOfRacyWindow() // or the rescan reads them all again
	c := openTestCatalog(t)
	mustScan(t, c, []string{base}, ScanOptions{})
	sameGroups(t, "before", dirGroups(t, c, base, tree0), nil)
	z := []byte("Z")
	hash := dto.FileHash{Size: 1, MD5: fmt.Sprintf("%x", md5.Sum(z)), SHA1: fmt.Sprintf("%x", sha1.Sum(z)), SHA256: fmt.Sprintf("%x", sha256.Sum256(z))}
	err := c.UoW().Do(context.Background(), "test.accept", func(ctx context.Context, r *uow.Repos) error {
		var id int64
		fs, err := r.Files.GetByPaths(ctx, "m1", []string{filepath.Join(base, "a/f1")})
		if err != nil || len(fs) != 1 {
			return fmt.Errorf("a/f1: %v, %v", fs, err)
		}
		for _, f := range fs {
			id = f.ID
		}
		return r.Verifications.Accept(ctx, id, hash, time.Now())
	})
	if err != nil {
		t.Fatal(err)
	}
	mustScan(t, c, []string{base}, ScanOptions{})
	sameGroups(t, "after --accept and a scan", dirGroups(t, c, base, tree0), [][]string{{"a", "c"}})
}

// TestDirsUpgradeRecomputesContentDigests proves that a catalog whose
// directory digests were computed by the AdHash scheme of schema versions 7
// to 12 (a 32-byte sum, in content_sum and at the head of the stored
// entries) gets, once migration 13 has run, the digests of the lattice
// scheme at its next scan: those a fresh catalog computes, for the
// directories that changed and those that did not.
func TestDirsUpgradeRecomputesContentDigests(t *testing.T) {
	base := t.TempDir()
	tree(t, base, map[string]string{"a/x": "A", "a/s/y": "B", "b/x": "A", "b/s/y": "B", "c/z": "C", "c/s/y": "Y"})
	outOfRacyWindow() // or the rescan reads them all again
	path := dbtest.Location(t, filepath.Join(t.TempDir(), "catalog", "index.db"))
	c := openCatalogAt(t, path)
	mustScan(t, c, []string{base}, ScanOptions{})
	// As version 12 left it: the old sums, and the schema one version back.
	err := c.DB().WithWrite(func(w *sqlx.DB) error {
		rows, err := w.Query("SELECT id, entries FROM dirs")
		if err != nil {
			return err
		}
		old := map[int64][]byte{}
		for rows.Next() {
			var id int64
			var e []byte
			if err := rows.Scan(&id, &e); err != nil {
				rows.Close()
				return err
			}
			files := e[1:] // the same files, after a 32-byte sum
			if e[0] == entriesSumOwn {
				files = e[1+latticeBytes:]
			}
			old[id] = append(bytes.Repeat([]byte{7}, 32), files...)
		}
		rows.Close()
		for id, e := range old {
			if _, err := w.Exec(w.Rebind("UPDATE dirs SET entries = ?, content_sum = ?, content = ? WHERE id = ?"),
				e, bytes.Repeat([]byte{7}, 32), bytes.Repeat([]byte{byte(id % 2)}, 32), id); err != nil {
				return err
			}
		}
		// Back to version 12: undo 15 (content_totals and its triggers)
		// and 14 (a column of volumes), and 13 runs again.
		for _, q := range []string{"DROP TRIGGER contents_totals_insert", "DROP TRIGGER contents_totals_delete",
			"DROP TRIGGER contents_totals_update", "DROP TABLE content_totals", "ALTER TABLE volumes DROP COLUMN fingerprint"} {
			if _, err := w.Exec(q); err != nil {
				return err
			}
		}
		_, err = w.Exec("DELETE FROM schema_migrations WHERE version >= 13")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	c = openCatalogAt(t, path)
	writeFile(t, filepath.Join(base, "c/z"), []byte("C2"))
	outOfRacyWindow()
	mustScan(t, c, []string{base}, ScanOptions{})

	fresh := openTestCatalog(t)
	mustScan(t, fresh, []string{base}, ScanOptions{})
	got, want := dumpDirs(t, c, "m1", base), dumpDirs(t, fresh, "m1", base)
	if len(got) != len(want) {
		t.Errorf("%d directories, want %d", len(got), len(want))
	}
	for p, w := range want {
		if g := got[p]; !dirsEqual(g, w) || len(g.ContentSum) != latticeBytes {
			t.Errorf("after the upgrade and a scan, %s has content %x (sum of %d bytes), want %x", p, g.Content, len(g.ContentSum), w.Content)
		}
	}
	sameGroups(t, "content", dirGroups(t, c, base, DirDupesOptions{MinSize: 1, Content: true}), [][]string{{"a", "b"}})
}

// TestMergeRecordsEqualsRecomputation proves that bringing stored entries
// up to date with a scan's changes (replacements, additions, removals,
// several changes of one name, files without a sha256) gives the records
// and the sum that encoding the resulting files from scratch gives.
func TestMergeRecordsEqualsRecomputation(t *testing.T) {
	g := newDigester()
	rng := rand.New(rand.NewPCG(7, 8))
	file := func(name string) dto.DirFile {
		f := dto.DirFile{Path: name, Size: rng.Int64N(1000), Exec: rng.IntN(4) == 0, ExecUnknown: rng.IntN(8) == 0}
		if rng.IntN(6) != 0 {
			sum := sha256.Sum256(fmt.Appendf(nil, "%d", rng.IntN(30)))
			f.SHA256 = sum[:]
		}
		return f
	}
	encode := func(files map[string]dto.DirFile) (lattice, []byte) {
		names := make([]string, 0, len(files))
		for n := range files {
			names = append(names, n)
		}
		slices.Sort(names)
		var sum lattice
		var b []byte
		for _, n := range names {
			b = appendRecord(b, files[n])
			if len(files[n].SHA256) == 32 {
				sum.add(g.element(files[n].SHA256))
			}
		}
		return sum, b
	}
	for round := range 200 {
		files := map[string]dto.DirFile{}
		for range rng.IntN(12) {
			n := fmt.Sprintf("f%02d", rng.IntN(20))
			files[n] = file(n)
		}
		sum, records := encode(files)
		var changes []dto.DirFile
		for range rng.IntN(8) {
			n := fmt.Sprintf("f%02d", rng.IntN(20))
			c := file(n)
			if rng.IntN(3) == 0 {
				c.Deleted = true
				delete(files, n)
			} else {
				files[n] = c
			}
			changes = append(changes, c)
		}
		got, err := g.mergeRecords(&sum, records, changes, []byte("head"))
		if err != nil {
			t.Fatal(err)
		}
		wantSum, want := encode(files)
		if !bytes.Equal(got, append([]byte("head"), want...)) {
			t.Fatalf("round %d: records\n%x\nwant\n%x", round, got, want)
		}
		if sum != wantSum {
			t.Fatalf("round %d: the sum differs from the files' sum", round)
		}
	}
}
