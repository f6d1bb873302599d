package service

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/repo"
	"github.com/indexer/indexer/internal/sumfile"
	"github.com/indexer/indexer/internal/uow"
)

// ImportOptions say whose files a checksum file lists and where.
type ImportOptions struct {
	// Machine owns the rows.
	Machine string
	// Base is the absolute directory relative names are read from; "" refuses
	// relative names.
	Base string
}

// ImportResult tells what Import did.
type ImportResult struct {
	Format sumfile.Format `json:"format"`
	// Files is how many rows were written.
	Files int `json:"files"`
	// Completed is how many had their size and other digests filled in
	// from a row of this catalog with the same content.
	Completed int `json:"completed"`
	// NoSize is how many have no size (a *sum file carries none, and the
	// catalog held no row of the content): they count 0 bytes until a scan
	// reads them.
	NoSize int `json:"no_size"`
}

// BadImportError is a checksum file Import cannot read: the user's input
// is wrong, not the catalog.
type BadImportError struct{ Err error }

func (e *BadImportError) Error() string { return e.Err.Error() }
func (e *BadImportError) Unwrap() error { return e.Err }

// Import reads a checksum file (see sumfile.Read) as rows of o.Machine:
// one per entry, an existing row at the same path replaced. The rows carry
// no validators, so the next scan of their paths reads each file once; no
// modification time (the Unix epoch stands in) and, from a *sum file, no
// size, unless a row of this catalog with the same content gives it, with
// that content's other digests. open is called twice: Import reads the
// whole file once to check it, and writes nothing if it is malformed (a
// *BadImportError); then reads it again and writes in chunks of
// repo.ChunkSize rows, one transaction each.
func (c *Catalog) Import(ctx context.Context, open func() (io.ReadCloser, error), o ImportOptions) (ImportResult, error) {
	var res ImportResult
	each := func(fn func(sumfile.Entry) error) (sumfile.Format, error) {
		r, err := open()
		if err != nil {
			return "", err
		}
		defer r.Close()
		return sumfile.Read(r, fn)
	}
	format, err := each(func(e sumfile.Entry) error {
		_, err := importPath(e.Name, o.Base)
		return err
	})
	if err != nil {
		return res, &BadImportError{err}
	}
	res.Format = format
	now := time.Now()
	var batch []dto.FileWithHash
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := c.uow.Do(ctx, "import", func(ctx context.Context, r *uow.Repos) error {
			return r.Files.UpsertImported(ctx, batch)
		})
		res.Files += len(batch)
		batch = batch[:0]
		return err
	}
	_, err = each(func(e sumfile.Entry) error {
		path, err := importPath(e.Name, o.Base)
		if err != nil {
			return err
		}
		f := dto.FileWithHash{FileMeta: dto.FileMeta{Machine: o.Machine, Path: path, Name: filepath.Base(path),
			Size: max(e.Size, 0), Modified: time.Unix(0, 0), Scanned: now, Operation: dto.OpAdd,
			Validators: dto.Validators{Nlink: 1}},
			Hash: dto.FileHash{MD5: e.MD5, SHA1: e.SHA1, SHA256: e.SHA256}}
		if e.MD5 == "" || e.SHA1 == "" || e.SHA256 == "" || e.Size < 0 {
			known, ok, err := c.knownContent(ctx, e)
			if err != nil {
				return err
			}
			if ok {
				f.Hash, f.Size = known, known.Size
				res.Completed++
			} else if e.Size < 0 {
				res.NoSize++
			}
		}
		f.Validators.Size = f.Size
		f.Hash.Size = f.Size
		batch = append(batch, f)
		if len(batch) >= repo.ChunkSize {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return res, fmt.Errorf("import: %w", err)
	}
	return res, nil
}

// knownContent returns the content of a row of this catalog with e's
// digest (sha256 first) and all three digests.
func (c *Catalog) knownContent(ctx context.Context, e sumfile.Entry) (dto.FileHash, bool, error) {
	digest := e.SHA256
	if digest == "" {
		digest = e.SHA1
	}
	if digest == "" {
		digest = e.MD5
	}
	var h dto.FileHash
	var ok bool
	err := c.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		var err error
		h, ok, err = r.Files.ContentByDigest(ctx, digest)
		return err
	})
	if err != nil || !ok || h.MD5 == "" || h.SHA1 == "" || h.SHA256 == "" {
		return dto.FileHash{}, false, err
	}
	// The digests a file gives must agree with the row's, and so its size.
	if (e.MD5 != "" && e.MD5 != h.MD5) || (e.SHA1 != "" && e.SHA1 != h.SHA1) || (e.SHA256 != "" && e.SHA256 != h.SHA256) ||
		(e.Size >= 0 && e.Size != h.Size) {
		return dto.FileHash{}, false, nil
	}
	return h, true, nil
}

// importPath returns the absolute, clean path of a name a checksum file
// gives, relative ones read from base.
func importPath(name, base string) (string, error) {
	if filepath.IsAbs(name) {
		return filepath.Clean(name), nil
	}
	if base == "" {
		return "", fmt.Errorf("%q is a relative name; pass --base with the directory the checksums were made in", name)
	}
	return filepath.Join(base, name), nil
}
