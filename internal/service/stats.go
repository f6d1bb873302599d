package service

import (
	"context"
	"sort"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/match"
	"github.com/indexer/indexer/internal/uow"
)

// StatsDupes are the options with which Stats counts duplicates: those of
// `indexer dupes` without flags (present plain files of at least one byte).
var StatsDupes = DupesOptions{MinSize: 1}

// TopExtensions is how many extensions Stats reports.
const TopExtensions = 10

// Stats returns the catalog's totals from one consistent snapshot: files and
// bytes overall and per machine, distinct contents, duplicates counted as
// Dupes with StatsDupes counts them, the TopExtensions extensions with the
// most bytes, and the last scans (at most scans of them), newest first.
func (c *Catalog) Stats(ctx context.Context, scans int) (dto.Stats, error) {
	var st dto.Stats
	err := c.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		machines := map[string]*dto.MachineStats{}
		exts := map[string]*dto.ExtensionStats{}
		// add counts n rows of one machine and kind, of ext (raw) for files.
		add := func(machine, kind, ext string, n, bytes int64) {
			m := machines[machine]
			if m == nil {
				m = &dto.MachineStats{Machine: machine}
				machines[machine] = m
			}
			switch kind {
			case "deleted":
				m.Deleted += n
				return
			case "entry":
				st.ArchiveEntries += n
				return
			}
			m.Files += n
			m.Bytes += bytes
			ext = match.Fold(ext)
			e := exts[ext]
			if e == nil {
				e = &dto.ExtensionStats{Extension: ext}
				exts[ext] = e
			}
			e.Files += n
			e.Bytes += bytes
		}
		current, err := r.Files.SummaryCurrent(ctx)
		if err != nil {
			return err
		}
		if current {
			err = r.Files.EachFileTotal(ctx, func(t dto.FileTotal) error {
				add(t.Machine, t.Kind, t.Ext, t.Files, t.Bytes)
				return nil
			})
		} else {
			// A scan has the summary set aside: a pass over the rows.
			err = r.Files.EachNameSize(ctx, func(f dto.NameSize) error {
				switch {
				case f.Deleted:
					add(f.Machine, "deleted", "", 1, f.Size)
				case f.Archived:
					add(f.Machine, "entry", "", 1, f.Size)
				default:
					add(f.Machine, "file", db.RawExtension(f.Name), 1, f.Size)
				}
				return nil
			})
		}
		if err != nil {
			return err
		}
		st.Machines = make([]dto.MachineStats, 0, len(machines))
		for _, m := range machines {
			st.Files += m.Files
			st.Bytes += m.Bytes
			st.Deleted += m.Deleted
			st.Machines = append(st.Machines, *m)
		}
		sort.Slice(st.Machines, func(i, j int) bool { return st.Machines[i].Machine < st.Machines[j].Machine })
		st.Extensions = make([]dto.ExtensionStats, 0, len(exts))
		for _, e := range exts {
			st.Extensions = append(st.Extensions, *e)
		}
		sort.Slice(st.Extensions, func(i, j int) bool {
			a, b := st.Extensions[i], st.Extensions[j]
			if a.Bytes != b.Bytes {
				return a.Bytes > b.Bytes
			}
			return a.Extension < b.Extension
		})
		st.Extensions = st.Extensions[:min(len(st.Extensions), TopExtensions)]

		if st.Contents, err = r.Files.DistinctContents(ctx); err != nil {
			return err
		}
		d, err := r.Files.DupeTotals(ctx, StatsDupes.filter())
		if err != nil {
			return err
		}
		st.DuplicateGroups, st.DuplicateFiles, st.ReclaimableBytes = d.Groups, d.Files, d.Reclaimable

		if st.Verification, err = r.Verifications.Summary(ctx); err != nil {
			return err
		}
		st.Scans, err = recentScans(ctx, r, scans)
		return err
	})
	return st, err
}

// RecentScans returns the last n scans, newest first, as Stats lists them.
func (c *Catalog) RecentScans(ctx context.Context, n int) ([]dto.ScanSummary, error) {
	var out []dto.ScanSummary
	err := c.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		var err error
		out, err = recentScans(ctx, r, n)
		return err
	})
	return out, err
}

func recentScans(ctx context.Context, r *uow.Repos, n int) ([]dto.ScanSummary, error) {
	recent, err := r.Scans.Recent(ctx, n)
	if err != nil {
		return nil, err
	}
	out := make([]dto.ScanSummary, len(recent))
	for i, s := range recent {
		sum := dto.ScanSummary{ID: s.ID, Machine: s.Machine, Roots: s.Roots, Started: s.Started, Status: s.Status, ScanCounts: s.ScanCounts}
		if !s.Finished.IsZero() {
			fin := s.Finished
			sum.Finished = &fin
			sum.DurationMS = fin.Sub(s.Started).Milliseconds()
		}
		out[i] = sum
	}
	return out, nil
}

// Extension returns the lower-cased text after the last dot of a file name,
// or "" when there is none or the only dot starts the name (".profile").
func Extension(name string) string {
	return match.Fold(db.RawExtension(name))
}
