package service

import (
	"context"
	"fmt"
	"io/fs"
	"os"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/uow"
)

// Lookup hashes each local file in one pass, as scan does, and calls fn with where its
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
		h, err := lookupHash(ctx, name)
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

// lookupHash returns the digests of a regular file, read once as scan reads
// it (a file that keeps changing while read is an error), or an error that
// names the file. It stats first, so that a directory or a named pipe gets a
// clear sentence.
func lookupHash(ctx context.Context, name string) (dto.FileHash, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return dto.FileHash{}, fmt.Errorf("cannot read %s: %w", name, cause(err))
	}
	if !fi.Mode().IsRegular() {
		return dto.FileHash{}, fmt.Errorf("cannot read %s: it is %s, not a regular file", name, kind(fi.Mode()))
	}
	_, h, err := hashFile(ctx, name, true, &ScanProgress{})
	if err != nil {
		return dto.FileHash{}, fmt.Errorf("cannot read %s: %w", name, err)
	}
	return h, nil
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
