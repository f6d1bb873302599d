package cmd

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/indexer/indexer/internal/bytesize"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/service"
)

func init() { register(newFindCmd) }

func newFindCmd(a *app) *cobra.Command {
	var (
		filters findFilters
		format  string
		print0  bool
	)
	c := &cobra.Command{
		Use:   "find [TERM...]",
		Short: "List catalog entries by name, path, hash, size or place",
		Long: `find lists the catalog entries that match every filter given, ordered by
machine and path. Each TERM must match, as in plocate: a TERM with *, ? or [
is a shell pattern (see --name) matched against the file name, or against the
whole path when it holds a /; any other TERM must occur in the path. --name
GLOB matches the whole file name: * any run of characters, ? one character,
[abc], [a-z], [!a-z] a class, \ quotes the next character. --hash takes an
md5, sha1 or sha256 in hex (told apart by length) or a sha256 prefix of 8 hex
digits or more, such as the 16 that dupes prints (every match is listed).
--min-size and --max-size, --under PATH, --machine. -i makes --name and the
TERMs ignore case. Files a scan found gone are left out unless --deleted, and
entries inside archives (ARCHIVE::INNER) unless --include-archived, as in
dupes.

Formats: text (default, for people: size, modification time (UTC) and path,
with "machine:" when several machines are involved; a path with control
characters or bytes that are not UTF-8 is printed quoted, with escapes);
paths (one path per line, byte for byte, never quoted); -0 (the same, each
path ended by a NUL byte, for xargs -0; both list one machine, so over a
catalog of several they need --machine); csv (machine, path, archive_path,
size, modified, md5, sha1, sha256, operation; paths byte for byte); json
(also --json): an array of {machine, path, size, modified, md5, sha1, sha256,
operation}, plus archive_path for archive entries and path_b64 when a path is
not valid UTF-8 (see docs/json.md).`,
		Example: `  indexer find '*.jpg' -i
  indexer find python3 gzip
  indexer find holiday --under ~/Pictures --min-size 1M
  indexer find --hash 9f86d081884c7d65
  indexer find -0 '*.tmp' | xargs -0 rm --
  indexer find --name 'IMG_????.CR2' --machine nas --limit 20 --format csv`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := filters.options(cmd, a, args)
			if err != nil {
				return err
			}
			if format, err = findFormat(cmd, a.json, print0, format); err != nil {
				return err
			}
			cat, multi, err := a.openListing(cmd.Context(), opts.Machine)
			if err != nil {
				return err
			}
			defer cat.Close()
			if multi && format == "paths" {
				name := "--format paths"
				if print0 {
					name = "-0"
				}
				return a.exactAcrossMachines(cmd.Context(), cat, name)
			}
			if opts.Under != "" {
				under, err := a.underPaths(cmd.Context(), cat, opts.Machine, []string{opts.Under})
				if err != nil {
					return err
				}
				opts.Under = under[0]
			}
			w := bufio.NewWriterSize(a.stdout, 64<<10)
			var out func(dto.FileWithHash) error
			var done func() error
			switch format {
			case "json":
				arr := &jsonArray{w: w}
				out = func(f dto.FileWithHash) error { return arr.add(dto.NewFound(f)) }
				done = arr.close
			case "csv":
				c := csv.NewWriter(w)
				if err := c.Write(foundCSVHeader); err != nil {
					return err
				}
				out = func(f dto.FileWithHash) error { return c.Write(foundCSV(f)) }
				done = func() error {
					c.Flush()
					if err := c.Error(); err != nil {
						return err
					}
					return w.Flush()
				}
			case "paths":
				sep := byte('\n')
				if print0 {
					sep = 0
				}
				out = func(f dto.FileWithHash) error {
					w.WriteString(exactLocation(f.Path, f.ArchivePath))
					return w.WriteByte(sep)
				}
				done = w.Flush
			default:
				out = func(f dto.FileWithHash) error { return writeFound(w, f, multi) }
				done = w.Flush
			}
			_, err = cat.Find(cmd.Context(), opts, out)
			var bad *service.BadQueryError
			if errors.As(err, &bad) {
				return usageError("%w", err)
			}
			if err != nil {
				w.Flush()
				return fmt.Errorf("find: %w", err)
			}
			return done()
		},
	}
	f := c.Flags()
	filters.bind(f)
	f.StringVar(&format, "format", "text", "output `FORMAT`: text, paths, csv or json")
	f.BoolVarP(&print0, "print0", "0", false, "paths format with NUL after each path")
	return c
}

// findFilters are the filters of find, shared by the commands that select
// catalog entries as find does (find, export).
type findFilters struct {
	name, hash, minSize, maxSize, under string
	fold, deleted, includeArchived      bool
	limit                               int
}

// bind declares the filter flags on f.
func (o *findFilters) bind(f *pflag.FlagSet) {
	f.StringVar(&o.name, "name", "", "only entries whose name matches this shell `GLOB`, such as '*.jpg'")
	f.BoolVarP(&o.fold, "ignore-case", "i", false, "match --name and the TERMs ignoring case")
	f.StringVar(&o.hash, "hash", "", "md5, sha1 or sha256 of the content in `HEX`, or a sha256 prefix of 8 digits or more")
	f.StringVar(&o.minSize, "min-size", "", "leave out files smaller than this `SIZE`: bytes, or 10K, 1.5MB, 2GiB...")
	f.StringVar(&o.maxSize, "max-size", "", "leave out files larger than this `SIZE`: bytes, or 10K, 1.5MB, 2GiB...")
	f.StringVar(&o.under, "under", "", "only entries at or below this `PATH`")
	f.BoolVar(&o.deleted, "deleted", false, "also list files a scan found gone")
	f.BoolVar(&o.includeArchived, "include-archived", false, "also entries inside archives (left out by default)")
	f.IntVar(&o.limit, "limit", 0, "stop after this many entries (0: no limit)")
}

// options checks the filter flags and the TERMs and returns them as
// service.FindOptions; bad input is a usage error.
func (o *findFilters) options(cmd *cobra.Command, a *app, terms []string) (service.FindOptions, error) {
	opts := service.FindOptions{Name: o.name, Fold: o.fold, Hash: o.hash, Machine: explicitMachine(cmd, a),
		Deleted: o.deleted, Limit: o.limit, MaxSize: -1, IncludeArchived: o.includeArchived}
	for _, t := range terms {
		if t == "" {
			return opts, usageError("a TERM is empty; leave it out to list everything")
		}
	}
	opts.Terms = terms
	if cmd.Flags().Changed("name") && o.name == "" {
		return opts, usageError("--name is empty; give a pattern such as '*.jpg'")
	}
	var err error
	if o.minSize != "" {
		if opts.MinSize, err = sizeFlag("min-size", o.minSize); err != nil {
			return opts, err
		}
	}
	if o.maxSize != "" {
		if opts.MaxSize, err = sizeFlag("max-size", o.maxSize); err != nil {
			return opts, err
		}
	}
	if o.limit < 0 {
		return opts, usageError("--limit %d is negative; use 0 for no limit", o.limit)
	}
	if o.under != "" {
		if opts.Under, err = filepath.Abs(o.under); err != nil {
			return opts, usageError("--under %s: %w", o.under, err)
		}
	}
	return opts, nil
}

// findFormat settles the output format from --format, --json and -0, which
// must agree.
func findFormat(cmd *cobra.Command, asJSON, print0 bool, format string) (string, error) {
	return outputFormat(cmd, asJSON, print0, format, "paths", []string{"text", "paths", "csv", "json"})
}

func writeFound(w *bufio.Writer, f dto.FileWithHash, multi bool) error {
	fmt.Fprintf(w, "%10s  %s  %s", bytesize.Format(f.Size), f.Modified.UTC().Format("2006-01-02 15:04"),
		location(f.Machine, f.Path, f.ArchivePath, multi))
	if f.Operation == dto.OpDel {
		w.WriteString("  (deleted)")
	}
	return w.WriteByte('\n')
}

var foundCSVHeader = []string{"machine", "path", "archive_path", "size", "modified", "md5", "sha1", "sha256", "operation"}

// foundCSV is one row of find --format csv; paths byte for byte.
func foundCSV(f dto.FileWithHash) []string {
	return []string{f.Machine, f.Path, f.ArchivePath, strconv.FormatInt(f.Size, 10),
		f.Modified.UTC().Format(time.RFC3339Nano), f.Hash.MD5, f.Hash.SHA1, f.Hash.SHA256, string(f.Operation)}
}
