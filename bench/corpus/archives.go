package corpus

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"
)

// ArchiveStats describe a generated tree of archives.
type ArchiveStats struct {
	Archives     int
	ArchiveBytes int64 // the archives' sizes on disk
	Entries      int
	EntryBytes   int64 // the entries' uncompressed content
	Dups         int   // entries whose content repeats an earlier entry's
}

// Archives writes n archives under dir, alternately zip (deflate) and
// tar.gz, of entries files each. Entry sizes are log-uniform in 1–64 KiB;
// half the contents are random (incompressible), half text-like; a fifth
// repeat an earlier entry, in the same archive or another, as the
// duplicates a backup tree holds. The tree is a function of seed.
func Archives(dir string, n, entries int, seed uint64) (ArchiveStats, error) {
	rng := rand.New(rand.NewPCG(seed, 0xa4c))
	spec := Spec{MinSize: 1 << 10, MaxSize: 64 << 10, LogSizes: true}
	var st ArchiveStats
	var origs []original
	var texts []bool
	mod := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	for a := range n {
		ext := ".zip"
		if a%2 == 1 {
			ext = ".tar.gz"
		}
		path := filepath.Join(dir, fmt.Sprintf("d%03d", a/50), fmt.Sprintf("backup%05d%s", a, ext))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return st, err
		}
		f, err := os.Create(path)
		if err != nil {
			return st, err
		}
		w := newArchiveWriter(f, ext)
		for e := range entries {
			var o original
			var text bool
			if len(origs) > 0 && rng.Float64() < 0.2 {
				i := rng.IntN(len(origs))
				o, text = origs[i], texts[i]
				st.Dups++
			} else {
				o, text = original{size: spec.size(rng), seed: rng.Uint64()}, rng.IntN(2) == 0
				origs, texts = append(origs, o), append(texts, text)
			}
			name := fmt.Sprintf("files/%03d/entry%05d.dat", e/100, e)
			if err := w.add(name, o.size, mod, content(o, text)); err != nil {
				f.Close()
				return st, fmt.Errorf("%s: %w", path, err)
			}
			st.Entries++
			st.EntryBytes += o.size
		}
		if err := w.close(); err != nil {
			f.Close()
			return st, fmt.Errorf("%s: %w", path, err)
		}
		if err := f.Close(); err != nil {
			return st, err
		}
		fi, err := os.Stat(path)
		if err != nil {
			return st, err
		}
		st.Archives++
		st.ArchiveBytes += fi.Size()
	}
	return st, nil
}

// content is o's bytes: random, or text-like words drawn from o's seed.
func content(o original, text bool) io.Reader {
	var seed [32]byte
	for i := range 8 {
		seed[i] = byte(o.seed >> (8 * i))
	}
	src := rand.NewChaCha8(seed)
	if !text {
		return io.LimitReader(src, o.size)
	}
	words := []string{"the ", "catalog ", "of ", "files ", "backup ", "photo ", "2024 ", "report\n", "and ", "a "}
	rng := rand.New(src)
	buf := make([]byte, 0, o.size+16)
	for int64(len(buf)) < o.size {
		buf = append(buf, words[rng.IntN(len(words))]...)
	}
	return bytes.NewReader(buf[:o.size])
}

type archiveWriter struct {
	zw *zip.Writer
	gz *gzip.Writer
	tw *tar.Writer
}

func newArchiveWriter(w io.Writer, ext string) *archiveWriter {
	if ext == ".zip" {
		return &archiveWriter{zw: zip.NewWriter(w)}
	}
	gz := gzip.NewWriter(w)
	return &archiveWriter{gz: gz, tw: tar.NewWriter(gz)}
}

func (a *archiveWriter) add(name string, size int64, mod time.Time, r io.Reader) error {
	var w io.Writer
	if a.zw != nil {
		var err error
		if w, err = a.zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: mod}); err != nil {
			return err
		}
	} else {
		if err := a.tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: size, ModTime: mod}); err != nil {
			return err
		}
		w = a.tw
	}
	_, err := io.Copy(w, r)
	return err
}

func (a *archiveWriter) close() error {
	if a.zw != nil {
		return a.zw.Close()
	}
	if err := a.tw.Close(); err != nil {
		return err
	}
	return a.gz.Close()
}
