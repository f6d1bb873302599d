package service

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

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
		if got, want := g.element(sum[:]), h.Sum(nil); !bytes.Equal(got, want) {
			t.Fatalf("element %x, want %x", got, want)
		}
		h = keyed(treeKey)
		h.Write([]byte{1, 'n', 'f'})
		h.Write(sum[:])
		if got, want := g.treeDigest([]dirEntry{{name: "n", digest: sum[:]}}), h.Sum(nil); !bytes.Equal(got, want) {
			t.Fatalf("tree %x, want %x", got, want)
		}
	}
}

// TestSum256SubUndoesAdd proves that sub takes back what add added,
// carries and borrows included.
func TestSum256SubUndoesAdd(t *testing.T) {
	var s sum256
	ones := bytes.Repeat([]byte{0xff}, 32)
	one := append([]byte{1}, make([]byte, 31)...)
	s.add(ones)
	s.add(one) // wraps to 0
	if s != (sum256{}) {
		t.Fatalf("2^256-1 + 1 = %x, want 0", s.bytes())
	}
	s.sub(one) // borrows through every word
	if !bytes.Equal(s.bytes(), ones) {
		t.Fatalf("0 - 1 = %x, want 2^256-1", s.bytes())
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
