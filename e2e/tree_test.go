package e2e

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// tree is a generated directory tree and what the test knows it holds.
type tree struct {
	root  string
	files entries // every regular file with the sha256 of its content
	bytes int64
}

var (
	bigOnce sync.Once
	big     *tree
	bigErr  error
)

// bigTree returns the shared tree of a few thousand files of up to 1 MiB,
// about a tenth of them duplicates, in two halves root/a and root/b. It is
// generated once, from a fixed seed, and must not be modified by tests.
func bigTree(t testing.TB) *tree {
	t.Helper()
	bigOnce.Do(func() {
		n := 4000
		if testing.Short() {
			n = 1500
		}
		big, bigErr = generate(filepath.Join(suiteDir, "big"), n, 1)
	})
	if bigErr != nil {
		t.Fatalf("generate tree: %v", bigErr)
	}
	return big
}

// generate writes n files under root: sizes mostly small, some up to 1 MiB,
// content from a seeded generator so every run sees the same tree.
func generate(root string, n int, seed uint64) (*tree, error) {
	rng := rand.New(rand.NewPCG(seed, 0xe2e))
	tr := &tree{root: root, files: entries{}}
	buf := make([]byte, 1<<20)
	var earlier [][2]uint64 // (size, content seed) of files that may be copied
	for i := range n {
		var size, cseed uint64
		switch r := rng.Float64(); {
		case len(earlier) > 0 && r < 0.1:
			e := earlier[rng.IntN(len(earlier))]
			size, cseed = e[0], e[1]
		default:
			switch r := rng.Float64(); {
			case r < 0.6:
				size = rng.Uint64N(8 << 10)
			case r < 0.9:
				size = 8<<10 + rng.Uint64N(120<<10)
			default:
				size = 128<<10 + rng.Uint64N(896<<10)
			}
			cseed = rng.Uint64()
			earlier = append(earlier, [2]uint64{size, cseed})
		}
		half := "a"
		if i%2 == 1 {
			half = "b"
		}
		p := filepath.Join(root, half, fmt.Sprintf("d%03d", i/200), fmt.Sprintf("f%05d.bin", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		var key [32]byte
		binary.LittleEndian.PutUint64(key[:], cseed)
		content := buf[:size]
		_, _ = rand.NewChaCha8(key).Read(content)
		if err := os.WriteFile(p, content, 0o644); err != nil {
			return nil, err
		}
		sum := sha256.Sum256(content)
		tr.files[p] = hex.EncodeToString(sum[:])
		tr.bytes += int64(size)
	}
	return tr, nil
}

// sha256File returns the hex sha256 of the file at p.
func sha256File(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

var (
	refMu    sync.Mutex
	refCache = map[string]entries{}
)

// reference scans root with the indexer into a fresh catalog of its own and
// returns what that clean scan recorded, after checking it equals want (the
// content the test computed itself) when want is not nil. Results are cached
// per root: the trees it is used on are never modified.
func reference(t testing.TB, root string, want entries) entries {
	t.Helper()
	refMu.Lock()
	defer refMu.Unlock()
	if ref, ok := refCache[root]; ok {
		return ref
	}
	dir, err := os.MkdirTemp(suiteDir, "ref-")
	if err != nil {
		t.Fatal(err)
	}
	c := &catalog{t: t, path: filepath.Join(dir, "index.db")}
	s := c.scan(0, root)
	if s.Status != "complete" || s.Failed != 0 {
		t.Fatalf("reference scan of %s: status %s, %d failed", root, s.Status, s.Failed)
	}
	ref := rows(t, c.path)
	if want != nil {
		if d := diff(ref, want); d != "" {
			t.Fatalf("reference scan of %s differs from the content on disk: %s", root, d)
		}
	}
	refCache[root] = ref
	return ref
}

// smallTree generates a tree of n files in a fresh directory of t's.
func smallTree(t testing.TB, n int, seed uint64) *tree {
	t.Helper()
	tr, err := generate(filepath.Join(tempDir(t), fmt.Sprintf("tree%d", seed)), n, seed)
	if err != nil {
		t.Fatalf("generate tree: %v", err)
	}
	return tr
}
