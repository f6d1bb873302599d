package cmd

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/indexer/indexer/internal/bytesize"
	"github.com/indexer/indexer/internal/dto"
)

func init() { register(newStatsCmd) }

func newStatsCmd(a *app) *cobra.Command {
	var scans int
	c := &cobra.Command{
		Use:   "stats",
		Short: "Show the catalog's totals: files, bytes, duplicates, machines, extensions, scans",
		Long: `stats reports, from one consistent snapshot of the catalog: present files and
their bytes, files recorded as deleted, archive entries, distinct contents,
duplicate groups and the space they would free (counted as 'indexer dupes'
counts them with its defaults), files and bytes per machine, the ten
extensions with the most bytes, and the last scans with their status and
duration. --json prints all of it as one object.`,
		Example: `  indexer stats
  indexer stats --scans 20 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if scans < 0 {
				return usageError("--scans %d is negative", scans)
			}
			cat, err := a.openExisting(cmd.Context())
			if err != nil {
				return err
			}
			defer cat.Close()
			st, err := cat.Stats(cmd.Context(), scans)
			if err != nil {
				return fmt.Errorf("stats: %w", err)
			}
			if a.json {
				return a.printJSON(st)
			}
			fmt.Fprintf(a.stdout, "catalog %s\n\n", cat.DB().Path())
			writeTable(a.stdout, [][]string{
				{"files", thousands(st.Files), bytesize.Format(st.Bytes)},
				{"deleted", thousands(st.Deleted), ""},
				{"archive entries", thousands(st.ArchiveEntries), ""},
				{"distinct contents", thousands(st.Contents), ""},
				{"duplicate groups", thousands(st.DuplicateGroups), plural(st.DuplicateFiles, "file")},
				{"reclaimable", "", bytesize.Format(st.ReclaimableBytes)},
			})
			fmt.Fprintln(a.stdout)
			rows := [][]string{{"machine", "files", "bytes", "deleted"}}
			for _, m := range st.Machines {
				rows = append(rows, []string{displayPath(m.Machine), thousands(m.Files), bytesize.Format(m.Bytes), thousands(m.Deleted)})
			}
			writeTable(a.stdout, rows)
			fmt.Fprintln(a.stdout)
			rows = [][]string{{"extension", "files", "bytes"}}
			for _, e := range st.Extensions {
				ext := displayPath(e.Extension)
				if e.Extension == "" {
					ext = "(none)"
				}
				rows = append(rows, []string{ext, thousands(e.Files), bytesize.Format(e.Bytes)})
			}
			writeTable(a.stdout, rows)
			fmt.Fprintln(a.stdout)
			printVerification(a.stdout, st.Verification)
			if len(st.Scans) == 0 {
				fmt.Fprintln(a.stdout, "no scans yet")
				return nil
			}
			fmt.Fprintln(a.stdout, "last scans")
			sw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			for _, s := range st.Scans {
				took := "running"
				if s.Finished != nil {
					took = s.Finished.Sub(s.Started).Round(time.Second).String()
				}
				roots := make([]string, len(s.Roots))
				for i, r := range s.Roots {
					roots[i] = displayPath(r)
				}
				fmt.Fprintf(sw, "  #%d\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Machine,
					s.Started.Local().Format("2006-01-02 15:04"), s.Status, took, plural(s.FilesSeen, "file"), strings.Join(roots, " "))
			}
			return sw.Flush()
		},
	}
	c.Flags().IntVar(&scans, "scans", 5, "how many of the last scans to show")
	return c
}

// writeTable prints rows with the first column aligned left and the others
// right, two spaces apart.
func writeTable(w io.Writer, rows [][]string) {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c))
			if i == 0 {
				b.WriteString(c + pad)
			} else {
				b.WriteString("  " + pad + c)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// printVerification says when the catalog was last verified and lists the
// corruption found and not resolved since.
func printVerification(w io.Writer, v dto.VerifySummary) {
	if v.LastVerified.IsZero() {
		fmt.Fprintln(w, "never verified")
	} else {
		fmt.Fprintf(w, "last verified %s, %s verified\n", v.LastVerified.Local().Format("2006-01-02 15:04"), plural(v.Verified, "file"))
	}
	if len(v.Corrupt) > 0 {
		fmt.Fprintf(w, "corrupt, not resolved since (rescan, or 'indexer verify --accept PATH'):\n")
		for _, c := range v.Corrupt {
			fmt.Fprintf(w, "  %s\n", location(c.Machine, c.Path, c.ArchivePath, true))
		}
	}
	fmt.Fprintln(w)
}
