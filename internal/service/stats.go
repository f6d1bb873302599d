package service

import (
	"context"
	"sort"
	"strings"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/match"
	"github.com/indexer/indexer/internal/repo"
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
		err := r.Files.EachNameSize(ctx, func(f repo.NameSize) error {
			m := machines[f.Machine]
			if m == nil {
				m = &dto.MachineStats{Machine: f.Machine}
				machines[f.Machine] = m
			}
			switch {
			case f.Deleted:
				m.Deleted++
				return nil
			case f.Archived:
				st.ArchiveEntries++
				return nil
			}
			m.Files++
			m.Bytes += f.Size
			ext := Extension(f.Name)
			e := exts[ext]
			if e == nil {
				e = &dto.ExtensionStats{Extension: ext}
				exts[ext] = e
			}
			e.Files++
			e.Bytes += f.Size
			return nil
		})
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
	i := strings.LastIndexByte(name, '.')
	if i <= 0 {
		return ""
	}
	return match.Fold(name[i+1:])
}
