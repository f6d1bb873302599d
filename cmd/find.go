package cmd

import (
	"bufio"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/indexer/indexer/internal/bytesize"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/service"
)

func init() { register(newFindCmd) }

func newFindCmd(a *app) *cobra.Command {
	var (
		name, hash, minSize, maxSize, under string
		fold, deleted                       bool
		limit                               int
	)
	c := &cobra.Command{
		Use:   "find [SUBSTRING]",
		Short: "List catalog entries by name, path, hash, size or place",
		Long: `find lists the catalog entries that match every filter given, ordered by
machine and path: --name GLOB (the whole file name: * any run of characters,
? one character, [abc], [a-z], [!a-z] a class, \ quotes the next character), a
SUBSTRING of the path, --hash (an md5, sha1 or sha256 in hex, told apart by
length), --min-size and --max-size, --under PATH, --machine. -i makes --name and
SUBSTRING ignore case. Files a scan found gone are left out unless --deleted.
Entries inside archives show as ARCHIVE::INNER.

Text output is one entry per line: size, modification time (UTC) and path
(with "machine:" when several machines are involved); a path with control
characters or bytes that are not UTF-8 is printed quoted, with escapes. --json
prints an array of {machine, path, size, modified, md5, sha1, sha256,
operation}, plus archive_path for archive entries and path_b64 when a path is
not valid UTF-8 (see the README).`,
		Example: `  indexer find --name '*.jpg' -i
  indexer find holiday --under ~/Pictures --min-size 1M
  indexer find --hash d41d8cd98f00b204e9800998ecf8427e --json
  indexer find --name 'IMG_????.CR2' --machine nas --limit 20`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := service.FindOptions{Name: name, Fold: fold, Hash: hash, Machine: explicitMachine(cmd, a),
				Deleted: deleted, Limit: limit, MaxSize: -1}
			if len(args) == 1 {
				if args[0] == "" {
					return usageError("the SUBSTRING argument is empty; leave it out to list everything")
				}
				opts.Substring = args[0]
			}
			if cmd.Flags().Changed("name") && name == "" {
				return usageError("--name is empty; give a pattern such as '*.jpg'")
			}
			var err error
			if minSize != "" {
				if opts.MinSize, err = sizeFlag("min-size", minSize); err != nil {
					return err
				}
			}
			if maxSize != "" {
				if opts.MaxSize, err = sizeFlag("max-size", maxSize); err != nil {
					return err
				}
			}
			if limit < 0 {
				return usageError("--limit %d is negative; use 0 for no limit", limit)
			}
			if under != "" {
				if opts.Under, err = filepath.Abs(under); err != nil {
					return usageError("--under %s: %w", under, err)
				}
			}
			cat, multi, err := a.openListing(cmd.Context(), opts.Machine)
			if err != nil {
				return err
			}
			defer cat.Close()
			w := bufio.NewWriterSize(a.stdout, 64<<10)
			arr := &jsonArray{w: w}
			_, err = cat.Find(cmd.Context(), opts, func(f dto.FileWithHash) error {
				if a.json {
					return arr.add(newFoundJSON(f))
				}
				return writeFound(w, f, multi)
			})
			var bad *service.BadQueryError
			if errors.As(err, &bad) {
				return usageError("%w", err)
			}
			if err != nil {
				w.Flush()
				return fmt.Errorf("find: %w", err)
			}
			if a.json {
				return arr.close()
			}
			return w.Flush()
		},
	}
	f := c.Flags()
	f.StringVar(&name, "name", "", "shell pattern the file name must match, such as '*.jpg'")
	f.BoolVarP(&fold, "ignore-case", "i", false, "match --name and SUBSTRING ignoring case")
	f.StringVar(&hash, "hash", "", "md5, sha1 or sha256 of the content, in hex")
	f.StringVar(&minSize, "min-size", "", "smallest size: bytes, or 10K, 1.5MB, 2GiB...")
	f.StringVar(&maxSize, "max-size", "", "largest size: bytes, or 10K, 1.5MB, 2GiB...")
	f.StringVar(&under, "under", "", "only entries below this path")
	f.BoolVar(&deleted, "deleted", false, "also list files a scan found gone")
	f.IntVar(&limit, "limit", 0, "stop after this many entries (0: no limit)")
	return c
}

func writeFound(w *bufio.Writer, f dto.FileWithHash, multi bool) error {
	fmt.Fprintf(w, "%10s  %s  %s", bytesize.Format(f.Size), f.Modified.UTC().Format("2006-01-02 15:04"),
		location(f.Machine, f.Path, f.ArchivePath, multi))
	if f.Operation == dto.OpDel {
		w.WriteString("  (deleted)")
	}
	return w.WriteByte('\n')
}

// foundJSON is one element of `find --json`.
type foundJSON struct {
	Machine        string        `json:"machine"`
	Path           string        `json:"path"`
	PathB64        string        `json:"path_b64,omitempty"`
	ArchivePath    string        `json:"archive_path,omitempty"`
	ArchivePathB64 string        `json:"archive_path_b64,omitempty"`
	Size           int64         `json:"size"`
	Modified       string        `json:"modified"`
	MD5            string        `json:"md5"`
	SHA1           string        `json:"sha1"`
	SHA256         string        `json:"sha256"`
	Operation      dto.Operation `json:"operation"`
}

// jsonTime formats a file's time for JSON output as RFC 3339 in UTC with its
// nanoseconds, what encoding/json writes for a time.Time. A file's time can
// lie beyond the year 9999 (a tar entry can hold any), where encoding/json
// fails; Format writes the year's digits instead.
func jsonTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func newFoundJSON(f dto.FileWithHash) foundJSON {
	return foundJSON{Machine: f.Machine, Path: f.Path, PathB64: dto.PathB64(f.Path),
		ArchivePath: f.ArchivePath, ArchivePathB64: dto.PathB64(f.ArchivePath),
		Size: f.Size, Modified: jsonTime(f.Modified), MD5: f.Hash.MD5, SHA1: f.Hash.SHA1, SHA256: f.Hash.SHA256,
		Operation: f.Operation}
}
