package cmd

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/indexer/indexer/internal/bytesize"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/numfmt"
	"github.com/indexer/indexer/internal/service"
)

func init() { register(newDupesCmd) }

func newDupesCmd(a *app) *cobra.Command {
	var (
		minSize, maxSize, name, format string
		under                          []string
		includeArchived, print0        bool
		limit                          int
		dirs                           dirsFlags
	)
	c := &cobra.Command{
		Use:   "dupes [PATH...]",
		Short: "List files with identical content, largest reclaimable space first",
		Long: `dupes lists groups of present files with the same content (same sha256),
from the catalog alone: no file is read. Groups come largest reclaimable space
first, (copies - 1) * size, and files within a group by path. Names of one
file (same machine, device and inode: hard links, or one file scanned through
a symlinked directory or a bind mount) are one copy: they are shown as linked,
add nothing to the reclaimable space, and a content with only one copy is no
duplicate and is not listed.

By default every machine in the catalog takes part (paths get a "machine:"
prefix when there are several); --machine restricts to one. Each PATH, like
--under PATH (repeatable), keeps the files below it: a group is listed when at
least two of its files are below the paths given, and shows only those.
Empty files are left out unless --min-size 0; --max-size leaves out larger
files, --name GLOB keeps files whose name matches (as find --name, case
sensitive), --limit N stops after N groups. Archive entries are left out
unless --include-archived, as in find.

Formats: text (default, for people: odd names are quoted), fdupes (the paths
of a group one per line, byte for byte, and a blank line after each group, as
fdupes and jdupes print them, one name per copy), csv (one row per file), json (also --json):
{"groups":[{"sha256","size","count","copies","reclaimable","files":[{"machine",
"path"}]}],"groups_total","files_total","reclaimable_total"}. -0 prints the
fdupes format with every path ended by a NUL byte instead of a newline and
each group ended by one more NUL (jdupes -0). Both are bare paths of one
machine: over a catalog of several machines they need --machine (a usage
error says so). Memory is bounded however large the catalog: at most 64 MiB
of the listing is held to be sorted, and a larger one is sorted by the
database.`,
		Example: `  indexer dupes
  indexer dupes --min-size 1M ~/Pictures /mnt/backup/photos
  indexer dupes --name '*.jpg' --limit 10
  indexer dupes --machine nas --format fdupes
  indexer dupes -0 ~/src | xargs -0 ls -l
  indexer dupes --json > dupes.json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dirs.dirs || dirs.content || dirs.subset {
				paths := append(under, args...)
				if len(paths) > 1 {
					return usageError("--dirs takes one PATH (or --under PATH), not %d", len(paths))
				}
				one := ""
				if len(paths) == 1 {
					one = paths[0]
				}
				return runDupeDirs(cmd, a, dirs, minSize, one, format, print0)
			}
			opts := service.DupesOptions{Machine: explicitMachine(cmd, a), IncludeArchived: includeArchived,
				Name: name, Limit: limit}
			var err error
			if opts.MinSize, err = sizeFlag("min-size", minSize); err != nil {
				return err
			}
			if maxSize != "" {
				n, err := sizeFlag("max-size", maxSize)
				if err != nil {
					return err
				}
				opts.MaxSize = &n
			}
			if cmd.Flags().Changed("name") && name == "" {
				return usageError("--name is empty; give a pattern such as '*.jpg'")
			}
			if limit < 0 {
				return usageError("--limit %d is negative; use 0 for no limit", limit)
			}
			if opts.Under, err = absPaths(append(under, args...)); err != nil {
				return err
			}
			if format, err = dupesFormat(cmd, a.json, print0, format); err != nil {
				return err
			}
			var out dupesWriter
			switch format {
			case "text":
				out = &dupesText{}
			case "fdupes":
				out = &dupesFdupes{sep: '\n'}
				if print0 {
					out = &dupesFdupes{sep: 0}
				}
			case "csv":
				out = &dupesCSV{}
			case "json":
				out = &dupesJSON{}
			}
			cat, multi, err := a.openListing(cmd.Context(), opts.Machine)
			if err != nil {
				return err
			}
			defer cat.Close()
			if multi && format == "fdupes" {
				return a.exactAcrossMachines(cmd.Context(), cat, fdupesName(print0))
			}
			if opts.Under, err = a.underPaths(cmd.Context(), cat, opts.Machine, opts.Under); err != nil {
				return err
			}
			places, err := cat.Places(cmd.Context())
			if err != nil {
				return err
			}
			w := bufio.NewWriterSize(a.stdout, 64<<10)
			if err := out.begin(w, multi); err != nil {
				return err
			}
			totals, err := cat.Dupes(cmd.Context(), opts, func(g dto.DupeGroup) error {
				for i, f := range g.Files {
					g.Files[i].Volume = places.Ref(f.Machine, f.Path)
				}
				return out.group(g)
			})
			var bad *service.BadQueryError
			if errors.As(err, &bad) {
				return usageError("--name: %w", err)
			}
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
	f.StringVar(&minSize, "min-size", "1", "leave out files smaller than this `SIZE`: bytes, or 10K, 1.5MB, 2GiB...")
	f.StringVar(&maxSize, "max-size", "", "leave out files larger than this `SIZE`: bytes, or 10K, 1.5MB, 2GiB...")
	f.StringArrayVar(&under, "under", nil, "only files at or below this `PATH` (repeatable; PATH arguments do the same)")
	f.StringVar(&name, "name", "", "only files whose name matches this shell `GLOB`, such as '*.jpg'")
	f.IntVar(&limit, "limit", 0, "stop after this many groups (0: no limit)")
	f.BoolVar(&includeArchived, "include-archived", false, "also entries inside archives (left out by default)")
	f.StringVar(&format, "format", "text", "output `FORMAT`: text, fdupes, csv or json")
	f.BoolVarP(&print0, "print0", "0", false, "fdupes format with NUL after each path and after each group")
	dirs.register(c)
	return c
}

// fdupesName names the exact format of dupes as the user asked for it.
func fdupesName(print0 bool) string {
	if print0 {
		return "-0"
	}
	return "--format fdupes"
}

// dupesFormat settles the output format from --format, --json and -0, which
// must agree.
func dupesFormat(cmd *cobra.Command, asJSON, print0 bool, format string) (string, error) {
	return outputFormat(cmd, asJSON, print0, format, "fdupes", []string{"text", "fdupes", "csv", "json"})
}

// outputFormat settles a listing's format from --format, --json and -0,
// which must agree: -0 means exact, the format for programs that -0 ends
// with NUL; formats are the ones the command knows.
func outputFormat(cmd *cobra.Command, asJSON, print0 bool, format, exact string, formats []string) (string, error) {
	set := cmd.Flags().Changed("format")
	switch {
	case asJSON && print0:
		return "", usageError("--json and -0 contradict each other; pass one")
	case asJSON && set && format != "json":
		return "", usageError("--json and --format %s contradict each other; pass one", format)
	case asJSON:
		return "json", nil
	case print0 && set && format != exact:
		return "", usageError("-0 prints the %s format, not --format %s; pass one", exact, format)
	case print0:
		return exact, nil
	}
	if slices.Contains(formats, format) {
		return format, nil
	}
	return "", usageError("--format %q is not one of %s", format, strings.Join(formats, ", "))
}

// dupesWriter prints a stream of groups in one format.
type dupesWriter interface {
	begin(w *bufio.Writer, multiMachine bool) error
	group(g dto.DupeGroup) error
	end(t dto.DupeTotals) error
}

// dupesText prints groups for people. Each group is formatted into one
// buffer, kept from group to group, and written at once: no string is made
// per number or per path.
type dupesText struct {
	w     *bufio.Writer
	multi bool
	links linkSets
	buf   []byte
}

func (d *dupesText) begin(w *bufio.Writer, multi bool) error {
	d.w, d.multi = w, multi
	return nil
}

func (d *dupesText) group(g dto.DupeGroup) error {
	b := numfmt.AppendPlural(d.buf[:0], int64(g.Count), "file")
	b = append(b, " of "...)
	b = bytesize.AppendFormat(b, g.Size)
	b = append(b, " ("...)
	b = numfmt.AppendPlural(b, g.Size, "byte")
	b = append(b, "), "...)
	b = bytesize.AppendFormat(b, g.Reclaimable)
	b = append(b, " reclaimable, sha256 "...)
	b = append(b, g.SHA256[:min(16, len(g.SHA256))]...)
	b = append(b, '\n')
	sets, n := d.links.number(g.Files)
	for i, f := range g.Files {
		b = append(b, "  "...)
		if f.Volume != nil {
			b = append(b, volumePlace(f, d.multi)...)
		} else {
			b = appendLocation(b, f.Machine, f.Path, f.ArchivePath, d.multi)
		}
		switch {
		case sets[i] > 0 && n > 1:
			b = append(b, "  [linked "...)
			b = strconv.AppendInt(b, int64(sets[i]), 10)
			b = append(b, ']')
		case sets[i] > 0:
			b = append(b, "  [linked]"...)
		}
		b = append(b, '\n')
	}
	b = append(b, '\n')
	d.buf = b
	_, err := d.w.Write(b)
	return err
}

func (d *dupesText) end(t dto.DupeTotals) error {
	if t.Groups == 0 {
		_, err := d.w.WriteString("no duplicates\n")
		return err
	}
	_, err := fmt.Fprintf(d.w, "%s, %s, %s reclaimable (%s)\n",
		plural(t.Groups, "group"), plural(t.Files, "file"), bytesize.Format(t.Reclaimable), plural(t.Reclaimable, "byte"))
	return err
}

// linkSets numbers the sets of hard links in a group from 1, by first
// appearance (0 for a file that is no hard link of another). It keeps its
// slice and map from one group to the next.
type linkSets struct {
	sets []int
	ids  map[linkKey]int
}

type linkKey struct {
	machine       string
	device, inode uint64
}

// number returns the set of each file of fs, valid until the next call,
// and how many sets there are.
func (l *linkSets) number(fs []dto.DupeFile) ([]int, int) {
	l.sets = slices.Grow(l.sets[:0], len(fs))[:len(fs)]
	clear(l.sets)
	if !slices.ContainsFunc(fs, func(f dto.DupeFile) bool { return f.Linked }) {
		return l.sets, 0
	}
	if l.ids == nil {
		l.ids = map[linkKey]int{}
	}
	clear(l.ids)
	for i, f := range fs {
		if !f.Linked {
			continue
		}
		k := linkKey{f.Machine, f.Device, f.Inode}
		if l.ids[k] == 0 {
			l.ids[k] = len(l.ids) + 1
		}
		l.sets[i] = l.ids[k]
	}
	return l.sets, len(l.ids)
}

// dupesFdupes prints what fdupes and jdupes print: the paths of a group, each
// ended by sep, and one more sep after each group. Paths are written byte
// for byte, never quoted: a program reads them back exactly when sep is NUL,
// and with a newline whenever no name holds one. They carry no "machine:"
// prefix: the command refuses this format over several machines unless
// --machine picks one (see exactAcrossMachines).
//
// Like them, it lists one name per copy: of names that are one file (linked),
// only the first. A script that keeps one path of a group and deletes the
// others must never delete a file through one name while keeping it "safe"
// under another.
type dupesFdupes struct {
	w       *bufio.Writer
	sep     byte
	links   linkSets
	printed []bool // by link set, kept from group to group
}

func (d *dupesFdupes) begin(w *bufio.Writer, _ bool) error {
	d.w = w
	return nil
}

func (d *dupesFdupes) group(g dto.DupeGroup) error {
	sets, n := d.links.number(g.Files)
	d.printed = slices.Grow(d.printed[:0], n+1)[:n+1]
	clear(d.printed)
	for i, f := range g.Files {
		if sets[i] > 0 {
			if d.printed[sets[i]] {
				continue
			}
			d.printed[sets[i]] = true
		}
		p := f.Path
		if v := f.Volume; v != nil {
			if !v.Mounted {
				// A volume's path is no path of this machine until it is mounted.
				return fmt.Errorf("%s is not mounted, so its files have no path here; mount it, or use --format text", volumeName(v, f.Machine))
			}
			p = v.AbsPath
		}
		d.w.WriteString(p)
		if f.ArchivePath != "" {
			d.w.WriteString("::")
			d.w.WriteString(f.ArchivePath)
		}
		d.w.WriteByte(d.sep)
	}
	return d.w.WriteByte(d.sep)
}

func (d *dupesFdupes) end(dto.DupeTotals) error { return nil }

// dupesCSV prints one row per file. Paths are written as they are, byte for
// byte; the CSV quoting keeps newlines and commas inside a field. Rows are
// written as encoding/csv writes them (a test holds the two together), from
// one reused buffer: the group's columns once, then each file's.
type dupesCSV struct {
	w         *bufio.Writer
	head, buf []byte
}

func (d *dupesCSV) begin(w *bufio.Writer, _ bool) error {
	d.w = w
	_, err := w.WriteString("sha256,size,count,copies,reclaimable,machine,path,archive_path,linked\n")
	return err
}

func (d *dupesCSV) group(g dto.DupeGroup) error {
	h := appendCSVField(d.head[:0], g.SHA256)
	h = append(h, ',')
	h = strconv.AppendInt(h, g.Size, 10)
	h = append(h, ',')
	h = strconv.AppendInt(h, int64(g.Count), 10)
	h = append(h, ',')
	h = strconv.AppendInt(h, int64(g.Copies), 10)
	h = append(h, ',')
	h = strconv.AppendInt(h, g.Reclaimable, 10)
	h = append(h, ',')
	d.head = h
	b := d.buf[:0]
	for _, f := range g.Files {
		b = append(b, h...)
		b = appendCSVField(b, f.Machine)
		b = append(b, ',')
		b = appendCSVField(b, f.Path)
		b = append(b, ',')
		b = appendCSVField(b, f.ArchivePath)
		b = append(b, ',')
		b = strconv.AppendBool(b, f.Linked)
		b = append(b, '\n')
	}
	d.buf = b
	_, err := d.w.Write(b)
	return err
}

func (d *dupesCSV) end(dto.DupeTotals) error { return nil }

// appendCSVField appends s as encoding/csv's Writer writes a field with a
// comma between fields and LF line ends: quoted when it holds a comma, a
// double quote, CR or LF, begins with a space character or is \., with
// double quotes doubled.
func appendCSVField(b []byte, s string) []byte {
	if !csvNeedsQuotes(s) {
		return append(b, s...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

func csvNeedsQuotes(s string) bool {
	if s == "" {
		return false
	}
	if s == `\.` || strings.ContainsAny(s, ",\"\r\n") {
		return true
	}
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsSpace(r)
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
