package service

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/indexer/indexer/internal/digest"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/uow"
)

// Lookup hashes each local file in one pass and calls fn with where its
// content is in the catalog: every present file and archive entry with the
// same sha256, on any machine. A file that cannot be read gets a result with
// Error set, and Lookup goes on with the next. Only fn's error, a cancelled
// ctx or a catalog failure stop it.
func (c *Catalog) Lookup(ctx context.Context, files []string, fn func(dto.LookupResult) error) error {
	for _, name := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		res := dto.LookupResult{File: name}
		h, err := hashFile(name)
		if err != nil {
			res.Error = err.Error()
		} else {
			res.SHA256, res.Size = h.SHA256, h.Size
			err := c.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
				var err error
				res.Locations, err = r.Files.Locations(ctx, h.SHA256)
				return err
			})
			if err != nil {
				return err
			}
			res.Found = len(res.Locations) > 0
		}
		if err := fn(res); err != nil {
			return err
		}
	}
	return nil
}

// hashFile returns the digests of a regular file, or an error that names it.
// It stats before opening, so a named pipe is refused instead of blocking.
func hashFile(name string) (dto.FileHash, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return dto.FileHash{}, cannotRead(name, err)
	}
	if !fi.Mode().IsRegular() {
		return dto.FileHash{}, fmt.Errorf("cannot read %s: it is %s, not a regular file", name, kind(fi.Mode()))
	}
	f, err := os.Open(name)
	if err != nil {
		return dto.FileHash{}, cannotRead(name, err)
	}
	defer f.Close()
	h, err := digest.Reader(f)
	if err != nil {
		return dto.FileHash{}, cannotRead(name, err)
	}
	return h, nil
}

// cannotRead names the file once: the *PathError's own copy of it is dropped.
func cannotRead(name string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("cannot read %s: %w", name, err)
}

func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return m.Type().String()
}
