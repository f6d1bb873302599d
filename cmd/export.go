package cmd

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/service"
	"github.com/indexer/indexer/internal/sumfile"
)

func init() { register(newExportCmd) }

// exportFormats are export's formats; the *sum ones name their digest.
var exportFormats = []string{"jsonl", "csv", "sha256sum", "md5sum", "sha1sum", "hashdeep"}

func newExportCmd(a *app) *cobra.Command {
	var (
		filters findFilters
		format  string
	)
	c := &cobra.Command{
		Use:   "export [TERM...]",
		Short: "Stream catalog entries as JSON lines, CSV, *sum or hashdeep files",
		Long: `export writes the catalog entries that match the filters of find (TERMs,
--name, --hash, --min-size, --max-size, --under, --machine, --deleted,
--include-archived, --limit; see 'indexer find --help') to stdout, ordered
by machine and path, in a format other tools read.

Formats: jsonl (default): one JSON object per line with every column of the
catalog (see docs/travel.md); csv: the same columns under a header line;
sha256sum, md5sum, sha1sum: the lines those GNU tools print, so that
'sha256sum -c' checks the files against the catalog, a name holding a
backslash, a line feed or a carriage return escaped as coreutils escapes it;
hashdeep: hashdeep's file format with size, md5, sha1 and sha256, so that
'hashdeep -r -a -k FILE TREE' audits a tree against the catalog.

The *sum and hashdeep formats list plain files of one machine by their
absolute path: over a catalog of several machines they need --machine, and
entries inside archives cannot be listed. A volume's files (--machine
vol:...) are listed at the path they have now that it is mounted; while it is
not, export refuses (jsonl and csv keep the volume's own paths). A file without the digest the
format needs (never hashed, or imported from another format), or a name
hashdeep cannot hold (one with a line break), is left out and counted on
stderr, and the exit status is then 3.`,
		Example: `  indexer export --machine nas --format sha256sum --under /srv/photos > photos.sha256
  (cd / && sha256sum -c --quiet photos.sha256)
  indexer export --format hashdeep --under ~/Music > music.hashdeep
  hashdeep -r -a -k music.hashdeep ~/Music
  indexer export '*.pdf' --format csv > pdfs.csv`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := filters.options(cmd, a, args)
			if err != nil {
				return err
			}
			if a.json && cmd.Flags().Changed("format") && format != "jsonl" {
				return usageError("--json and --format %s contradict each other; pass one", format)
			}
			if !strings.Contains(","+strings.Join(exportFormats, ",")+",", ","+format+",") {
				return usageError("--format %q is not one of %s", format, strings.Join(exportFormats, ", "))
			}
			sums := format != "jsonl" && format != "csv"
			if sums && opts.IncludeArchived {
				return usageError("--format %s lists files by path, and entries inside archives have none; leave out --include-archived", format)
			}
			cat, multi, err := a.openListing(cmd.Context(), opts.Machine)
			if err != nil {
				return err
			}
			defer cat.Close()
			if sums && multi {
				return a.exactAcrossMachines(cmd.Context(), cat, "--format "+format)
			}
			if opts.Under != "" {
				under, err := a.underPaths(cmd.Context(), cat, opts.Machine, []string{opts.Under})
				if err != nil {
					return err
				}
				opts.Under = under[0]
			}
			places, err := cat.Places(cmd.Context())
			if err != nil {
				return err
			}
			if sums && dto.IsVolumeMachine(opts.Machine) && !places.Mounted(opts.Machine) {
				return offlineExport(places, opts.Machine, "/", format)
			}
			w := bufio.NewWriterSize(a.stdout, 64<<10)
			ex, err := newExporter(w, format)
			if err != nil {
				return err
			}
			if sums {
				// A volume's rows are listed where the volume is now: the
				// paths a checker reads.
				write := ex.write
				ex.write = func(f dto.FileWithHash) error {
					abs, _, ok := places.Abs(f.Machine, f.Path)
					if !ok {
						return offlineExport(places, f.Machine, f.Path, format)
					}
					f.Path = abs
					return write(f)
				}
			}
			if _, err := cat.Find(cmd.Context(), opts, ex.write); err != nil {
				w.Flush()
				var bad *service.BadQueryError
				if errors.As(err, &bad) {
					return usageError("%w", err)
				}
				return fmt.Errorf("export: %w", err)
			}
			if err := ex.done(); err != nil {
				return err
			}
			if ex.noDigest+ex.unrepresentable == 0 {
				return nil
			}
			if ex.noDigest > 0 {
				fmt.Fprintf(a.stderr, "indexer: %d files have no %s in the catalog (never hashed, or imported without it) and were left out\n",
					ex.noDigest, ex.needs)
			}
			if ex.unrepresentable > 0 {
				fmt.Fprintf(a.stderr, "indexer: %d files have a line break in their name, which hashdeep files cannot hold, and were left out\n",
					ex.unrepresentable)
			}
			return withCode(ExitPartial, nil)
		},
	}
	f := c.Flags()
	filters.bind(f)
	f.StringVar(&format, "format", "jsonl", "output `FORMAT`: "+strings.Join(exportFormats, ", "))
	return c
}

// offlineExport is the refusal to list a volume's rows by path while it is
// not mounted (or its mounts do not show path).
func offlineExport(places *service.Places, machine, path, format string) error {
	return fmt.Errorf("%s is not mounted, so its files have no path a checker could read; mount it, or use --format jsonl or csv, which keep the volume's own paths",
		volumeName(places.Ref(machine, path), machine))
}

// exporter writes entries in one format and counts what it left out.
type exporter struct {
	write func(dto.FileWithHash) error
	done  func() error
	// needs names the digest a row must have ("md5, sha1 and sha256" for hashdeep).
	needs                     string
	noDigest, unrepresentable int
}

func newExporter(w *bufio.Writer, format string) (*exporter, error) {
	ex := &exporter{done: w.Flush}
	switch format {
	case "jsonl":
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		ex.write = func(f dto.FileWithHash) error { return enc.Encode(dto.NewExported(f)) }
	case "csv":
		c := csv.NewWriter(w)
		if err := c.Write(exportCSVHeader); err != nil {
			return nil, err
		}
		ex.write = func(f dto.FileWithHash) error { return c.Write(exportCSV(f)) }
		ex.done = func() error {
			c.Flush()
			if err := c.Error(); err != nil {
				return err
			}
			return w.Flush()
		}
	case "hashdeep":
		ex.needs = "md5, sha1 and sha256"
		dir, err := os.Getwd()
		if err != nil {
			dir = "?"
		}
		if err := sumfile.WriteHashdeepHeader(w, dir, "indexer export --format hashdeep"); err != nil {
			return nil, err
		}
		ex.write = func(f dto.FileWithHash) error {
			h := f.Hash
			if h.MD5 == "" || h.SHA1 == "" || h.SHA256 == "" {
				ex.noDigest++
				return nil
			}
			err := sumfile.WriteHashdeep(w, sumfile.Entry{Name: f.Path, Size: f.Size, MD5: h.MD5, SHA1: h.SHA1, SHA256: h.SHA256})
			if errors.Is(err, sumfile.ErrUnrepresentable) {
				ex.unrepresentable++
				return nil
			}
			return err
		}
	default: // the *sum formats
		ex.needs = strings.TrimSuffix(format, "sum")
		digest := map[string]func(dto.FileHash) string{
			"md5":    func(h dto.FileHash) string { return h.MD5 },
			"sha1":   func(h dto.FileHash) string { return h.SHA1 },
			"sha256": func(h dto.FileHash) string { return h.SHA256 },
		}[ex.needs]
		ex.write = func(f dto.FileWithHash) error {
			d := digest(f.Hash)
			if d == "" {
				ex.noDigest++
				return nil
			}
			return sumfile.WriteSum(w, d, f.Path)
		}
	}
	return ex, nil
}

var exportCSVHeader = []string{"id", "machine", "path", "archive_path", "name", "size", "created", "modified", "scanned",
	"operation", "is_archived", "scan_id", "md5", "sha1", "sha256", "mtime_ns", "ctime_ns", "inode", "device", "nlink"}

// exportCSV is one row of export --format csv; paths byte for byte.
func exportCSV(f dto.FileWithHash) []string {
	e := dto.NewExported(f)
	i := strconv.FormatInt
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	return []string{i(e.ID, 10), e.Machine, f.Path, f.ArchivePath, f.Name, i(e.Size, 10), e.Created, e.Modified, e.Scanned,
		string(e.Operation), strconv.FormatBool(e.IsArchived), i(e.ScanID, 10), e.MD5, e.SHA1, e.SHA256,
		i(e.MtimeNS, 10), i(e.CtimeNS, 10), u(e.Inode), u(e.Device), u(e.Nlink)}
}
