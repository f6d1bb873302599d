package service

import "github.com/indexer/indexer/internal/dto"

// Result returns the report as `scan --json` prints it.
func (rep ScanReport) Result() dto.ScanResult {
	by := map[string]int64{}
	for _, s := range rep.Skips {
		by[s.Reason]++
	}
	mbps := 0.0
	if secs := rep.Duration.Seconds(); secs > 0 {
		mbps = float64(rep.Counts.BytesHashed) / 1e6 / secs
	}
	out := dto.ScanResult{ScanID: rep.ID, Roots: rep.Roots, RootsB64: dto.PathsB64(rep.Roots), Status: string(rep.Status), ScanCounts: rep.Counts,
		ArchiveEntriesSeen: rep.ArchiveEntries, ExcludedMarkedGone: rep.ExcludedGone,
		DurationMS: rep.Duration.Milliseconds(), ThroughputMBps: mbps, SkippedByReason: by,
		Failures: []dto.PathError{}, Skips: []dto.PathReason{}}
	for _, f := range rep.Failures {
		out.Failures = append(out.Failures, dto.PathError{Path: f.Path, PathB64: dto.PathB64(f.Path), Error: f.Err.Error()})
	}
	for _, s := range rep.Skips {
		out.Skips = append(out.Skips, dto.PathReason{Path: s.Path, PathB64: dto.PathB64(s.Path), Reason: s.Reason})
	}
	return out
}
