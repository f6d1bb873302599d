package service

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/repo"
	"github.com/indexer/indexer/internal/uow"
)

// MergeSource is another catalog, checked and staged for Merge: a copy of
// it at the current schema version in a temporary directory, open for
// reading. Close removes the copy.
type MergeSource struct {
	Path string // the source as the user named it, made absolute
	Info db.Info
	dir  string
	cat  *Catalog
}

// OpenMergeSource checks src as restore checks a backup (an indexer catalog
// of this or an older schema version that passes integrity_check, and not
// the catalog at catalogPath itself), copies it into a temporary directory,
// upgrades the copy when its schema is older, and opens the copy. Nothing
// is written to src or to the catalog. Its errors read "cannot merge SRC:
// cause".
func OpenMergeSource(ctx context.Context, catalogPath, src string) (*MergeSource, error) {
	abs, err := filepath.Abs(src)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", src, err)
	}
	if own, ok, err := db.OwnFile(catalogPath, abs); err != nil {
		return nil, fmt.Errorf("cannot merge %s: %w", abs, err)
	} else if ok {
		return nil, fmt.Errorf("cannot merge %s: it is the catalog's own file %s", abs, own)
	}
	info, err := db.Inspect(ctx, abs, true)
	if err != nil {
		return nil, fmt.Errorf("cannot merge %s: %w", abs, err)
	}
	dir, err := os.MkdirTemp("", "indexer-merge-*")
	if err != nil {
		return nil, fmt.Errorf("cannot merge %s: create a temporary directory: %w", abs, err)
	}
	staged, err := stage(ctx, abs, dir, info)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("cannot merge %s: %w", abs, err)
	}
	opts := db.DefaultOptions()
	opts.MustExist, opts.OnlyReads = true, true
	cat, err := Open(ctx, staged, opts, nil)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("cannot merge %s: open its copy: %w", abs, err)
	}
	return &MergeSource{Path: abs, Info: info, dir: dir, cat: cat}, nil
}

// Machines returns the machines the source holds files or scans of.
func (s *MergeSource) Machines(ctx context.Context) ([]string, error) {
	ms, err := s.cat.Machines(ctx)
	if err != nil {
		return nil, err
	}
	err = s.cat.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		return sqlxSelectMachines(ctx, r, &ms)
	})
	slices.Sort(ms)
	return slices.Compact(ms), err
}

// sqlxSelectMachines adds the machines of the scans table to ms: a machine
// may have scans and no files.
func sqlxSelectMachines(ctx context.Context, r *uow.Repos, ms *[]string) error {
	var more []string
	if err := r.Tx.SelectContext(ctx, &more, "SELECT DISTINCT machine FROM scans"); err != nil {
		return fmt.Errorf("list machines: %w", err)
	}
	*ms = append(*ms, more...)
	return nil
}

// Close closes the copy and removes it.
func (s *MergeSource) Close() error {
	err := s.cat.Close()
	if rerr := os.RemoveAll(s.dir); err == nil {
		err = rerr
	}
	return err
}

// MergeOptions choose what Merge brings.
type MergeOptions struct {
	// Machines limits the merge to these machines of the source; none means all.
	Machines []string
	// Replace makes a machine present in both catalogs take the source's
	// rows and scans only, instead of merging them file by file.
	Replace bool
}

// MergedMachine tells what Merge did with one machine.
type MergedMachine struct {
	Machine string `json:"machine"`
	// How is "copied" (the catalog had no such machine), "replaced" or "merged".
	How string `json:"how"`
	// Scans is how many scans were added to the history.
	Scans int `json:"scans"`
	// Written is how many rows of files were written; Kept how many rows of
	// the catalog were kept over the source's, from an earlier scan or the same.
	Written int `json:"written"`
	Kept    int `json:"kept"`
	// Removed is how many rows --replace removed first.
	Removed int64 `json:"removed"`
}

// Merge brings the rows of src into the catalog, machine by machine: a
// machine the catalog does not hold is copied; one it holds is replaced with
// o.Replace, else merged file by file, keeping for each path the row of the
// later scan (the source's on a tie is not written: the same row). The
// scans come along under new ids, and the rows' scan ids follow them; a scan
// the catalog already holds (same machine and start) is not added again, so
// merging the same source twice changes nothing. Writes go in transactions
// of repo.ChunkSize rows. A machine named in o.Machines that src does not
// hold is an error before anything is written.
func (c *Catalog) Merge(ctx context.Context, src *MergeSource, o MergeOptions) ([]MergedMachine, error) {
	have, err := src.Machines(ctx)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", src.Path, err)
	}
	machines := have
	if len(o.Machines) > 0 {
		machines = nil
		for _, m := range o.Machines {
			if !slices.Contains(have, m) {
				return nil, fmt.Errorf("%s holds no machine %q; it holds %s", src.Path, m, strings.Join(have, ", "))
			}
			if !slices.Contains(machines, m) {
				machines = append(machines, m)
			}
		}
	}
	here, err := c.machinesWithScans(ctx)
	if err != nil {
		return nil, err
	}
	var out []MergedMachine
	for _, m := range machines {
		res := MergedMachine{Machine: m, How: "copied"}
		if slices.Contains(here, m) {
			res.How = "merged"
			if o.Replace {
				res.How = "replaced"
				if res.Removed, err = c.forgetMachine(ctx, m); err != nil {
					return out, err
				}
			}
		}
		if err := c.mergeMachine(ctx, src, &res); err != nil {
			return out, fmt.Errorf("merge machine %s from %s: %w", m, src.Path, err)
		}
		out = append(out, res)
	}
	return out, nil
}

func (c *Catalog) machinesWithScans(ctx context.Context) ([]string, error) {
	ms, err := c.Machines(ctx)
	if err != nil {
		return nil, err
	}
	err = c.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error { return sqlxSelectMachines(ctx, r, &ms) })
	return ms, err
}

// forgetMachine removes machine's rows, in chunks, then its scans.
func (c *Catalog) forgetMachine(ctx context.Context, machine string) (int64, error) {
	var out Forgotten
	err := c.forgetLoop(ctx, &out, func(ctx context.Context, r *uow.Repos) (repo.Forgettable, error) {
		return r.Files.ForgetMachine(ctx, machine, repo.ChunkSize)
	})
	if err != nil {
		return out.Rows, err
	}
	return out.Rows, c.uow.Do(ctx, "merge", func(ctx context.Context, r *uow.Repos) error {
		return r.Scans.ForgetMachine(ctx, machine)
	})
}

func (c *Catalog) mergeMachine(ctx context.Context, src *MergeSource, res *MergedMachine) error {
	m := res.Machine
	var scans []dto.Scan
	err := src.cat.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		var err error
		scans, err = r.Scans.OfMachine(ctx, m)
		return err
	})
	if err != nil {
		return err
	}
	// The source's scan ids, mapped to this catalog's.
	ids := make(map[int64]int64, len(scans))
	for start := 0; start < len(scans); start += repo.ChunkSize {
		chunk := scans[start:min(start+repo.ChunkSize, len(scans))]
		added := 0
		err := c.uow.Do(ctx, "merge", func(ctx context.Context, r *uow.Repos) error {
			added = 0
			for _, sc := range chunk {
				id, ok, err := r.Scans.IDStarted(ctx, m, sc.Started.UnixNano())
				if err != nil {
					return err
				}
				if !ok {
					if id, err = r.Scans.Insert(ctx, sc); err != nil {
						return err
					}
					added++
				}
				ids[sc.ID] = id
			}
			return nil
		})
		if err != nil {
			return err
		}
		res.Scans += added
	}

	var batch []dto.FileWithHash
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		written, kept := 0, 0
		err := c.uow.Do(ctx, "merge", func(ctx context.Context, r *uow.Repos) error {
			written, kept = 0, 0
			var write []dto.FileWithHash
			for _, f := range batch {
				at, ok, err := r.Files.ScannedAt(ctx, m, f.Path, f.ArchivePath)
				if err != nil {
					return err
				}
				if ok && at >= f.Scanned.UnixNano() {
					kept++
					continue
				}
				write = append(write, f)
			}
			written = len(write)
			return r.Files.UpsertImported(ctx, write)
		})
		res.Written += written
		res.Kept += kept
		batch = batch[:0]
		return err
	}
	err = src.cat.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		q := repo.FindFilter{Machine: m, MaxSize: -1, Deleted: true, IncludeArchived: true}
		return r.Files.Find(ctx, q, func(f dto.FileWithHash) error {
			f.ScanID = ids[f.ScanID] // 0 (NULL) for a row of no scan
			batch = append(batch, f)
			if len(batch) >= repo.ChunkSize {
				return flush()
			}
			return nil
		})
	})
	if err == nil {
		err = flush()
	}
	return err
}
