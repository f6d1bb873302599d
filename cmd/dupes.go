package cmd

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/indexer/indexer/internal/bytesize"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/service"
)

func init() { register(newDupesCmd) }

func newDupesCmd(a *app) *cobra.Command {
	var (
		minSize, under, format string
		includeArchived        bool
		dirs                   dirsFlags
	)
	c := &cobra.Command{
		Use:   "dupes",
		Short: "List files with identical content, largest reclaimable space first",
		Long: `dupes lists groups of present files with the same content (same sha256),
from the catalog alone: no file is read. Groups come largest reclaimable space
first, (copies - 1) * size, and files within a group by path. Hard links of one
another (same machine, device and inode) are one copy: they are shown as
linked and add nothing to the reclaimable space.

By default every machine in the catalog takes part (paths get a "machine:"
prefix when there are several); --machine restricts to one. --under PATH keeps
the files below PATH, and a group when at least two of its files are there.
Empty files are left out unless --min-size 0. Entries inside archives take part
with --include-archived.

Formats: text (default), fdupes (groups of paths separated by a blank line, as
fdupes and jdupes print them), csv (one row per file), json (also --json):
{"groups":[{"sha256","size","count","copies","reclaimable","files":[{"machine",
"path"}]}],"groups_total","files_total","reclaimable_total"}. Output is
streamed: memory stays flat however large the catalog.`,
		Example: `  indexer dupes
  indexer dupes --min-size 1M --under ~/Pictures
  indexer dupes --machine nas --format fdupes
  indexer dupes --json > dupes.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dirs.dirs || dirs.content || dirs.subset {
				return runDupeDirs(cmd, a, dirs, minSize, under, format)
			}
			opts := service.DupesOptions{Machine: explicitMachine(cmd, a), IncludeArchived: includeArchived}
			var err error
			if opts.MinSize, err = sizeFlag("min-size", minSize); err != nil {
				return err
			}
			if under != "" {
				if opts.Under, err = filepath.Abs(under); err != nil {
					return usageError("--under %s: %w", under, err)
				}
			}
			if a.json {
				if cmd.Flags().Changed("format") && format != "json" {
					return usageError("--json and --format %s contradict each other; pass one", format)
				}
				format = "json"
			}
			var out dupesWriter
			switch format {
			case "text":
				out = &dupesText{}
			case "fdupes":
				out = &dupesFdupes{}
			case "csv":
				out = &dupesCSV{}
			case "json":
				out = &dupesJSON{}
			default:
				return usageError("--format %q is not one of text, fdupes, csv, json", format)
			}
			cat, multi, err := a.openListing(cmd.Context(), opts.Machine)
			if err != nil {
				return err
			}
			defer cat.Close()
			w := bufio.NewWriterSize(a.stdout, 64<<10)
			if err := out.begin(w, multi); err != nil {
				return err
			}
			totals, err := cat.Dupes(cmd.Context(), opts, out.group)
			if err != nil {
				w.Flush()
				return fmt.Errorf("list duplicates: %w", err)
			}
			if err := out.end(totals); err != nil {
				return err
			}
			return w.Flush()
		},
	}
	f := c.Flags()
	f.StringVar(&minSize, "min-size", "1", "leave out files smaller than this: bytes, or 10K, 1.5MB, 2GiB...")
	f.StringVar(&under, "under", "", "only files below this path")
	f.BoolVar(&includeArchived, "include-archived", false, "also group entries inside archives")
	f.StringVar(&format, "format", "text", "output format: text, fdupes, csv or json")
	dirs.register(c)
	return c
}

// dupesWriter prints a stream of groups in one format.
type dupesWriter interface {
	begin(w *bufio.Writer, multiMachine bool) error
	group(g dto.DupeGroup) error
	end(t dto.DupeTotals) error
}

type dupesText struct {
	w     *bufio.Writer
	multi bool
}

func (d *dupesText) begin(w *bufio.Writer, multi bool) error {
	d.w, d.multi = w, multi
	return nil
}

func (d *dupesText) group(g dto.DupeGroup) error {
	fmt.Fprintf(d.w, "%d files of %s (%s bytes), %s reclaimable, sha256 %s\n",
		g.Count, bytesize.Format(g.Size), thousands(g.Size), bytesize.Format(g.Reclaimable), g.SHA256[:min(16, len(g.SHA256))])
	sets, n := linkSets(g.Files)
	for i, f := range g.Files {
		d.w.WriteString("  ")
		d.w.WriteString(location(f.Machine, f.Path, f.ArchivePath, d.multi))
		switch {
		case sets[i] > 0 && n > 1:
			fmt.Fprintf(d.w, "  [linked %d]", sets[i])
		case sets[i] > 0:
			d.w.WriteString("  [linked]")
		}
		d.w.WriteByte('\n')
	}
	_, err := d.w.WriteString("\n")
	return err
}

func (d *dupesText) end(t dto.DupeTotals) error {
	if t.Groups == 0 {
		_, err := d.w.WriteString("no duplicates\n")
		return err
	}
	_, err := fmt.Fprintf(d.w, "%s groups, %s files, %s reclaimable (%s bytes)\n",
		thousands(t.Groups), thousands(t.Files), bytesize.Format(t.Reclaimable), thousands(t.Reclaimable))
	return err
}

// linkSets numbers the sets of hard links in a group from 1, by first
// appearance (0 for a file that is no hard link of another), and returns how
// many sets there are.
func linkSets(fs []dto.DupeFile) ([]int, int) {
	type key struct {
		machine       string
		device, inode uint64
	}
	out := make([]int, len(fs))
	ids := map[key]int{}
	for i, f := range fs {
		if !f.Linked {
			continue
		}
		k := key{f.Machine, f.Device, f.Inode}
		if ids[k] == 0 {
			ids[k] = len(ids) + 1
		}
		out[i] = ids[k]
	}
	return out, len(ids)
}

// dupesFdupes prints what fdupes and jdupes print: the paths of a group one
// per line, and a blank line after each group.
type dupesFdupes struct {
	w     *bufio.Writer
	multi bool
}

func (d *dupesFdupes) begin(w *bufio.Writer, multi bool) error {
	d.w, d.multi = w, multi
	return nil
}

func (d *dupesFdupes) group(g dto.DupeGroup) error {
	for _, f := range g.Files {
		d.w.WriteString(location(f.Machine, f.Path, f.ArchivePath, d.multi))
		d.w.WriteByte('\n')
	}
	return d.w.WriteByte('\n')
}

func (d *dupesFdupes) end(dto.DupeTotals) error { return nil }

// dupesCSV prints one row per file. Paths are written as they are, byte for
// byte; the CSV quoting keeps newlines and commas inside a field.
type dupesCSV struct {
	c *csv.Writer
}

func (d *dupesCSV) begin(w *bufio.Writer, _ bool) error {
	d.c = csv.NewWriter(w)
	return d.c.Write([]string{"sha256", "size", "count", "copies", "reclaimable", "machine", "path", "archive_path", "linked"})
}

func (d *dupesCSV) group(g dto.DupeGroup) error {
	head := []string{g.SHA256, strconv.FormatInt(g.Size, 10), strconv.Itoa(g.Count), strconv.Itoa(g.Copies), strconv.FormatInt(g.Reclaimable, 10)}
	for _, f := range g.Files {
		if err := d.c.Write(append(head[:5:5], f.Machine, f.Path, f.ArchivePath, strconv.FormatBool(f.Linked))); err != nil {
			return err
		}
	}
	return nil
}

func (d *dupesCSV) end(dto.DupeTotals) error {
	d.c.Flush()
	return d.c.Error()
}

// dupesJSON writes the documented object by hand around each group's JSON,
// so that groups are printed as they come.
type dupesJSON struct {
	w   *bufio.Writer
	n   int
	buf []byte
}

func (d *dupesJSON) begin(w *bufio.Writer, _ bool) error {
	d.w = w
	_, err := w.WriteString(`{"groups":[`)
	return err
}

func (d *dupesJSON) group(g dto.DupeGroup) error {
	if d.n > 0 {
		d.w.WriteByte(',')
	}
	d.n++
	d.w.WriteString("\n")
	d.buf = g.AppendJSON(d.buf[:0])
	_, err := d.w.Write(d.buf)
	return err
}

func (d *dupesJSON) end(t dto.DupeTotals) error {
	tail, err := json.Marshal(t)
	if err != nil {
		return err
	}
	if d.n > 0 {
		d.w.WriteString("\n")
	}
	// tail is {"groups_total":...}: splice its fields after the array.
	d.w.WriteString("],")
	_, err = d.w.Write(tail[1:])
	if err == nil {
		_, err = io.WriteString(d.w, "\n")
	}
	return err
}
