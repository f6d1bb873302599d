package service

import (
	"bytes"
	"crypto/sha256"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/jmoiron/sqlx"
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
