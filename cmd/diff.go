package cmd

import (
	"encoding/csv"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/indexer/indexer/internal/bytesize"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/service"
)

func init() { register(newDiffCmd) }

func newDiffCmd(a *app) *cobra.Command {
	var since, until, under, format string
	c := &cobra.Command{
		Use:   "diff",
		Short: "List what changed between scans: added, modified, deleted and moved files",
		Long: `diff compares two points of this machine's history, as its scans recorded it
(--machine picks another machine). Each file is listed once, with its net
change over the interval: added, modified (old and new size and sha256),
deleted, or moved: a deletion and an addition of the same content within the
interval, shown as OLD -> NEW. Files that moved together from one directory to
another are shown as one directory move with their count (--json and --format
csv still list each file). A file added and deleted again within the interval
is not listed; nor is one modified back to its first content.

The interval is (--since, --until]: changes after scan --since up to scan
--until. Each is a scan number (as 'indexer stats' shows) or a date and time,
2006-01-02 or '2006-01-02 15:04' (local time) or RFC 3339, meaning the scans
started at or after it (--since) or before it (--until). By default diff shows
what changed since the complete scan before the last complete scan of the same
paths, up to the last scan.

diff reads only the change log, which scans write as they go: its cost follows
the number of changes, not the size of the catalog. 'indexer history prune'
drops old entries; a diff reaching before them says so on stderr.`,
		Example: `  indexer diff
  indexer diff --since 2024-05-01 --under ~/Pictures
  indexer diff --since 12 --until 15 --json
  indexer diff --machine nas --format csv > changes.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if a.json {
				if cmd.Flags().Changed("format") && format != "json" {
					return usageError("--json and --format %s contradict each other; pass one", format)
				}
				format = "json"
			}
			switch format {
			case "text", "csv", "json":
			default:
				return usageError("--format %q is not one of text, csv, json", format)
			}
			o := service.DiffOptions{Machine: a.machine, Under: under}
			var err error
			if o.Since, err = parseBound("since", since); err != nil {
				return err
			}
			if o.Until, err = parseBound("until", until); err != nil {
				return err
			}
			cat, err := a.openExisting(cmd.Context())
			if err != nil {
				return err
			}
			defer cat.Close()
			if under != "" {
				abs, err := absPaths([]string{under})
				if err != nil {
					return err
				}
				if abs, err = a.underPaths(cmd.Context(), cat, o.Machine, abs); err != nil {
					return err
				}
				o.Under = abs[0]
			}
			d, err := cat.Diff(cmd.Context(), o)
			if err != nil {
				return fmt.Errorf("diff: %w", err)
			}
			if d.LogStart != 0 {
				fmt.Fprintf(a.stderr, "indexer: the change log starts after scan #%d (older entries were pruned, or the catalog predates the log): changes of earlier scans are not shown\n", d.LogStart)
			}
			switch format {
			case "json":
				return a.printJSON(jsonDiff(d))
			case "csv":
				return a.printDiffCSV(d)
			}
			a.printDiff(d)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&since, "since", "", "changes after this `SCAN|DATE` (default: the complete scan before the last one)")
	f.StringVar(&until, "until", "", "changes up to this `SCAN|DATE` (default: the last scan)")
	f.StringVar(&under, "under", "", "only files at or below this `PATH`")
	f.StringVar(&format, "format", "text", "output `FORMAT`: text, csv or json")
	return c
}

// parseBound reads a --since or --until value: a scan number or a date.
func parseBound(flag, v string) (service.Bound, error) {
	if v == "" {
		return service.Bound{}, nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return service.Bound{}, usageError("--%s %s: a scan number is 1 or more", flag, v)
		}
		return service.Bound{Scan: n}, nil
	}
	for _, layout := range []string{"2006-01-02", "2006-01-02 15:04", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return service.Bound{Time: t}, nil
		}
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return service.Bound{Time: t}, nil
	}
	return service.Bound{}, usageError("--%s %q is neither a scan number nor a date such as 2024-05-01 or '2024-05-01 15:04'", flag, v)
}

// jsonDiff gives the lists of d as [] rather than null when empty.
func jsonDiff(d dto.Diff) dto.Diff {
	if d.Added == nil {
		d.Added = []dto.DiffFile{}
	}
	if d.Modified == nil {
		d.Modified = []dto.DiffModified{}
	}
	if d.Deleted == nil {
		d.Deleted = []dto.DiffFile{}
	}
	if d.Moved == nil {
		d.Moved = []dto.DiffMove{}
	}
	if d.MovedDirs == nil {
		d.MovedDirs = []dto.DirMove{}
	}
	return d
}

func (a *app) printDiff(d dto.Diff) {
	w := a.stdout
	fmt.Fprintf(w, "changes on %s after scan #%d up to scan #%d\n", displayPath(d.Machine), d.After, d.UpTo)
	for _, f := range d.Added {
		fmt.Fprintf(w, "+ %s  (%s)\n", location("", f.Path, f.ArchivePath, false), bytesize.Format(f.Size))
	}
	for _, f := range d.Modified {
		fmt.Fprintf(w, "~ %s  (%s -> %s)\n", location("", f.Path, f.ArchivePath, false), bytesize.Format(f.OldSize), bytesize.Format(f.NewSize))
	}
	for _, f := range d.Deleted {
		fmt.Fprintf(w, "- %s  (%s)\n", location("", f.Path, f.ArchivePath, false), bytesize.Format(f.Size))
	}
	for _, m := range d.MovedDirs {
		fmt.Fprintf(w, "> %s/ -> %s/  (%s, %s)\n", displayPath(m.From), displayPath(m.To), plural(int64(m.Files), "file"), bytesize.Format(m.Bytes))
	}
	for _, m := range d.Moved {
		if !m.InDirMove {
			fmt.Fprintf(w, "> %s -> %s  (%s)\n", location("", m.From, m.FromArchivePath, false), location("", m.To, m.ToArchivePath, false), bytesize.Format(m.Size))
		}
	}
	t := d.Totals
	fmt.Fprintf(w, "%s added (%s), %s modified (%s), %s deleted (%s), %s moved (%s)\n",
		thousands(int64(t.Added)), bytesize.Format(t.AddedBytes), thousands(int64(t.Modified)), bytesize.Format(t.ModifiedBytes),
		thousands(int64(t.Deleted)), bytesize.Format(t.DeletedBytes), thousands(int64(t.Moved)), bytesize.Format(t.MovedBytes))
}

// printDiffCSV writes one row per file; a move has both paths.
func (a *app) printDiffCSV(d dto.Diff) error {
	w := csv.NewWriter(a.stdout)
	n := strconv.FormatInt
	rows := [][]string{{"change", "path", "archive_path", "to_path", "to_archive_path", "size", "old_size", "sha256", "old_sha256", "scan"}}
	for _, f := range d.Added {
		rows = append(rows, []string{"added", f.Path, f.ArchivePath, "", "", n(f.Size, 10), "", f.SHA256, "", n(f.ScanID, 10)})
	}
	for _, f := range d.Modified {
		rows = append(rows, []string{"modified", f.Path, f.ArchivePath, "", "", n(f.NewSize, 10), n(f.OldSize, 10), f.NewSHA256, f.OldSHA256, n(f.ScanID, 10)})
	}
	for _, f := range d.Deleted {
		rows = append(rows, []string{"deleted", f.Path, f.ArchivePath, "", "", "", n(f.Size, 10), "", f.SHA256, n(f.ScanID, 10)})
	}
	for _, m := range d.Moved {
		rows = append(rows, []string{"moved", m.From, m.FromArchivePath, m.To, m.ToArchivePath, n(m.Size, 10), n(m.Size, 10), m.SHA256, m.SHA256, n(m.ScanID, 10)})
	}
	if err := w.WriteAll(rows); err != nil {
		return err
	}
	w.Flush()
	return w.Error()
}
