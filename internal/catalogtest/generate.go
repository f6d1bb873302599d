package catalogtest

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/service"
	"github.com/indexer/indexer/internal/uow"
)

// Spec describes a synthetic catalog.
type Spec struct {
	Files int    // rows to write
	Seed  uint64 // same seed, same catalog
}

// Generated sums up what Generate wrote.
type Generated struct {
	Files, Contents, Deleted, Archived, HardLinks int
}

var machines = []struct {
	name   string
	root   string
	weight float64
}{
	{"laptop", "/home/alice", 0.5},
	{"nas", "/srv/share/alice", 0.35},
	{"desktop", "/home/bob", 0.15},
}

var tops = []struct {
	dir   string
	names []string
}{
	{"Pictures", []string{"IMG_%04d.JPG", "IMG_%04d.jpg", "DSC_%04d.NEF", "photo (%d).jpeg", "Screenshot %d.png"}},
	{"Documents", []string{"report-%d.pdf", "notes %d.txt", "invoice_%d.docx", "budget-%d.xlsx", "letter%d.odt"}},
	{"Music", []string{"%02d - Track.mp3", "song_%d.flac", "take%d.wav", "%d.m4a"}},
	{"Videos", []string{"clip%d.mp4", "VID_%04d.MOV", "movie-%d.mkv"}},
	{"src", []string{"main_%d.go", "util%d.c", "README_%d.md", "index%d.js", "test_%d.py", "Makefile.%d"}},
	{"Downloads", []string{"setup-%d.exe", "archive-%d.zip", "paper_%d.pdf", "data%d.csv", "backup-%d.tar.gz"}},
}

// Generate writes a synthetic catalog of s.Files rows through the
// repositories, in transactions of 10,000 rows: three machines, realistic paths
// in directories of about forty files, log-uniform sizes from 100 bytes to
// 64 MiB; about 20% of the files repeat an earlier content (half of them
// under a new name), 0.2% have a second name that is a hard link, 2% of rows
// are DEL and 1% are archive entries. Digests are real digests of a counter.
func Generate(ctx context.Context, c *service.Catalog, s Spec) (Generated, error) {
	rng := rand.New(rand.NewPCG(s.Seed, s.Seed^0x9e3779b97f4a7c15))
	var g Generated
	contents := make([]int64, 0, s.Files) // the size of each content
	base := time.Date(2005, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	span := int64(20 * 365 * 24 * time.Hour)
	now := time.Now()

	// Transactions of 10,000 files build the catalog fast; the chunked write
	// rate of a scan is another benchmark's business.
	batch := make([]dto.FileWithHash, 0, 10_000)
	flush := func() error {
		err := insert(ctx, c.UoW(), batch, len(batch))
		batch = batch[:0]
		return err
	}
	// As a scan that adds many files does: the indexes are built once at
	// the end rather than kept up to date row by row.
	if err := c.UoW().Do(ctx, "generate.defer_indexes", func(ctx context.Context, r *uow.Repos) error {
		_, err := r.Indexes.Defer(ctx)
		return err
	}); err != nil {
		return g, err
	}
	dirFiles := 0
	var dir string
	var dirMachine int
	for i := 0; i < s.Files; i++ {
		if dirFiles <= 0 {
			dirMachine = pickMachine(rng)
			m := machines[dirMachine]
			top := tops[rng.IntN(len(tops))]
			dir = fmt.Sprintf("%s/%s/%d/%s-%05d", m.root, top.dir, 2005+rng.IntN(20), top.dir[:3], i/40)
			dirFiles = 20 + rng.IntN(41)
		}
		dirFiles--
		f := dto.FileWithHash{FileMeta: dto.FileMeta{Machine: machines[dirMachine].name, Operation: dto.OpAdd, Scanned: now}}
		ci := len(contents)
		if i > 0 && rng.Float64() < 0.2 {
			ci = rng.IntN(len(contents))
		} else {
			size := int64(math.Exp(math.Log(100) + rng.Float64()*(math.Log(64<<20)-math.Log(100))))
			contents = append(contents, size)
		}
		f.Inode = uint64(i + 1000)
		f.Device = uint64(2049 + dirMachine)
		f.Nlink = 1
		f.Size = contents[ci]
		f.Hash = fakeHash(ci, f.Size)
		f.Name = nameFor(ci)
		if ci != len(contents)-1 && rng.IntN(2) == 0 {
			f.Name = fmt.Sprintf("copy %d of %s", i, f.Name) // a renamed copy
		}
		f.Name = fmt.Sprintf("%d-%s", i%1000, f.Name) // unique in its directory
		f.Path = dir + "/" + f.Name
		f.Modified = time.Unix(0, base+rng.Int64N(span))
		f.MtimeNS = f.Modified.UnixNano()
		f.Validators.Size = f.Size
		switch r := rng.Float64(); {
		case r < 0.02:
			f.Operation = dto.OpDel
			g.Deleted++
		case r < 0.03:
			f.IsArchived = true
			f.ArchivePath = "inner/" + f.Name
			f.Path = dir + "/bundle.zip"
			f.Inode = 0
			g.Archived++
		}
		batch = append(batch, f)
		// Now and then a second name of the same inode, as cp -l makes.
		if f.Operation == dto.OpAdd && !f.IsArchived && i+1 < s.Files && rng.Float64() < 0.002 {
			batch[len(batch)-1].Nlink = 2
			l := f
			l.Nlink = 2
			l.Name = "link-" + f.Name
			l.Path = dir + "/" + l.Name
			batch = append(batch, l)
			i++
			dirFiles--
			g.HardLinks++
		}
		if len(batch) >= cap(batch)-1 {
			if err := flush(); err != nil {
				return g, err
			}
		}
	}
	if err := flush(); err != nil {
		return g, err
	}
	var deferred []string
	if err := c.UoW().Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		var err error
		deferred, err = r.Indexes.Deferred(ctx)
		return err
	}); err != nil {
		return g, err
	}
	for _, name := range deferred {
		if err := c.UoW().Do(ctx, "generate.build_index", func(ctx context.Context, r *uow.Repos) error {
			return r.Indexes.Build(ctx, name)
		}); err != nil {
			return g, err
		}
	}
	g.Files, g.Contents = s.Files, len(contents)
	// A few finished scans, so that stats has something to show.
	err := c.UoW().Do(ctx, "scans", func(ctx context.Context, r *uow.Repos) error {
		for i, m := range machines {
			started := now.Add(-time.Duration(i+1) * time.Hour)
			id, err := r.Scans.Create(ctx, dto.Scan{Machine: m.name, Roots: []string{m.root}, Started: started})
			if err != nil {
				return err
			}
			if err := r.Scans.Finish(ctx, dto.Scan{ID: id, Finished: started.Add(90 * time.Second), Status: dto.ScanComplete}); err != nil {
				return err
			}
		}
		return nil
	})
	return g, err
}

func pickMachine(rng *rand.Rand) int {
	r := rng.Float64()
	for i, m := range machines {
		if r < m.weight {
			return i
		}
		r -= m.weight
	}
	return len(machines) - 1
}

// nameFor is the name a content was first stored under.
func nameFor(ci int) string {
	t := tops[ci%len(tops)]
	return fmt.Sprintf(t.names[(ci/len(tops))%len(t.names)], ci%10000)
}

// fakeHash returns real digests of the content number, so they look and
// spread like digests of files.
func fakeHash(ci int, size int64) dto.FileHash {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(ci))
	m, s1, s2 := md5.Sum(b[:]), sha1.Sum(b[:]), sha256.Sum256(b[:])
	return dto.FileHash{Size: size, MD5: hex.EncodeToString(m[:]), SHA1: hex.EncodeToString(s1[:]), SHA256: hex.EncodeToString(s2[:])}
}
