// Package corpus generates the benchmark trees: deterministic for a seed, so
// every run and every machine measures the same files.
package corpus

import (
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
)

// Spec describes a tree to generate.
type Spec struct {
	Files    int     // number of files
	MinSize  int64   // smallest file
	MaxSize  int64   // largest file
	LogSizes bool    // sizes log-uniform (else uniform) between MinSize and MaxSize
	DupFrac  float64 // fraction of files that copy an earlier file's content
	SameSize float64 // fraction that take an earlier file's size with new content
	PerDir   int     // files per directory
	Seed     uint64
}

// Small is the many-small-files corpus: 100,000 files of 1–64 KiB.
func Small(files int) Spec {
	return Spec{Files: files, MinSize: 1 << 10, MaxSize: 64 << 10, LogSizes: true, DupFrac: 0.2, SameSize: 0.05, PerDir: 100, Seed: 1}
}

// Tiny is the million-tiny-files corpus: files of 0–4 KiB, 1,000 to a
// directory, 10% duplicates, the shape of source trees, mail folders and
// thumbnail caches, where the cost per file dominates.
func Tiny(files int) Spec {
	return Spec{Files: files, MinSize: 0, MaxSize: 4 << 10, DupFrac: 0.1, PerDir: 1000, Seed: 3}
}

// Large is the few-large-files corpus: about two dozen files of 32–128 MiB.
func Large(files int) Spec {
	return Spec{Files: files, MinSize: 32 << 20, MaxSize: 128 << 20, DupFrac: 1.0 / 3, PerDir: 8, Seed: 2}
}

// Stats describe a generated tree.
type Stats struct {
	Files int
	Bytes int64
	Dups  int // files whose content repeats an earlier one
}

type original struct {
	size int64
	seed uint64
}

// Generate writes the tree under dir (which must not exist yet or be empty).
// File i's content is a function of the seed alone, so trees are identical
// across runs.
func Generate(dir string, s Spec) (Stats, error) {
	rng := rand.New(rand.NewPCG(s.Seed, 0x1de))
	var st Stats
	var origs []original
	buf := make([]byte, 1<<20)
	for i := range s.Files {
		var o original
		switch r := rng.Float64(); {
		case len(origs) > 0 && r < s.DupFrac:
			o = origs[rng.IntN(len(origs))]
			st.Dups++
		case len(origs) > 0 && r < s.DupFrac+s.SameSize:
			o = original{size: origs[rng.IntN(len(origs))].size, seed: rng.Uint64()}
			origs = append(origs, o)
		default:
			o = original{size: s.size(rng), seed: rng.Uint64()}
			origs = append(origs, o)
		}
		path := filepath.Join(dir, Name(i, s.PerDir))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return st, err
		}
		if err := writeContent(path, o, buf); err != nil {
			return st, err
		}
		st.Files++
		st.Bytes += o.size
	}
	return st, nil
}

// Name is the relative path of file i: two levels of directories.
func Name(i, perDir int) string {
	d := i / perDir
	return filepath.Join(fmt.Sprintf("d%03d", d/100), fmt.Sprintf("d%03d", d%100), fmt.Sprintf("f%07d.bin", i))
}

func (s Spec) size(rng *rand.Rand) int64 {
	if !s.LogSizes {
		return s.MinSize + rng.Int64N(s.MaxSize-s.MinSize+1)
	}
	lo, hi := math.Log(float64(s.MinSize)), math.Log(float64(s.MaxSize))
	return int64(math.Exp(lo + rng.Float64()*(hi-lo)))
}

func writeContent(path string, o original, buf []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	var seed [32]byte
	for i := range 8 {
		seed[i] = byte(o.seed >> (8 * i))
	}
	src := rand.NewChaCha8(seed)
	for left := o.size; left > 0; {
		n := min(left, int64(len(buf)))
		_, _ = src.Read(buf[:n])
		if _, err := f.Write(buf[:n]); err != nil {
			f.Close()
			return err
		}
		left -= n
	}
	return f.Close()
}

// ChangeStats say what Change did.
type ChangeStats struct {
	SameSize, Resized, Deleted int
}

// Change modifies 1% of the regular files under dir in place (half keeping
// their size, half growing) and deletes 0.5%, chosen by seed.
func Change(dir string, seed uint64) (ChangeStats, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		return ChangeStats{}, err
	}
	sort.Strings(files)
	rng := rand.New(rand.NewPCG(seed, 0xc4a))
	rng.Shuffle(len(files), func(i, j int) { files[i], files[j] = files[j], files[i] })
	nMod, nDel := max(1, len(files)/100), max(1, len(files)/200)
	if nMod+nDel > len(files) {
		return ChangeStats{}, fmt.Errorf("too few files (%d) to change", len(files))
	}
	var cs ChangeStats
	for i, p := range files[:nMod] {
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			return cs, err
		}
		junk := make([]byte, 64)
		for k := range junk {
			junk[k] = byte(rng.Uint32())
		}
		if i%2 == 0 { // same size: overwrite the start
			_, err = f.WriteAt(junk, 0)
			cs.SameSize++
		} else {
			_, err = f.Seek(0, 2)
			if err == nil {
				_, err = f.Write(junk)
			}
			cs.Resized++
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return cs, err
		}
	}
	for _, p := range files[nMod : nMod+nDel] {
		if err := os.Remove(p); err != nil {
			return cs, err
		}
		cs.Deleted++
	}
	return cs, nil
}
