package cmd

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/indexer/indexer/internal/bytesize"
	"github.com/indexer/indexer/internal/numfmt"
	"github.com/indexer/indexer/internal/service"
)

// displayPath returns p as one line of text that shows every byte: p itself
// when it is valid UTF-8 made of printable characters and does not start with
// a double quote, and otherwise p quoted as a Go string ("a\nb", "\xff").
// So one path is always one line, and a quoted one is recognisable.
func displayPath(p string) string {
	if needsQuote(p) {
		return strconv.Quote(p)
	}
	return p
}

func needsQuote(p string) bool {
	if strings.HasPrefix(p, `"`) || !utf8.ValidString(p) {
		return true
	}
	for _, r := range p {
		if !strconv.IsPrint(r) {
			return true
		}
	}
	return false
}

// location formats where a file lives for text output: "ARCHIVE::INNER" for
// an entry of an archive, with a "machine:" prefix when withMachine is set,
// escaped by displayPath.
func location(machine, path, archivePath string, withMachine bool) string {
	if archivePath != "" {
		path += "::" + archivePath
	}
	s := displayPath(path)
	if withMachine {
		s = machine + ":" + s
	}
	return s
}

// exactLocation is location for programs: the path, byte for byte, never
// quoted, and never with a machine (exact formats list one machine).
func exactLocation(path, archivePath string) string {
	if archivePath != "" {
		path += "::" + archivePath
	}
	return path
}

// absPaths makes each path absolute, as --under needs it.
func absPaths(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		if p == "" {
			return nil, usageError("an empty PATH was given; name a directory")
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, usageError("%s: %w", p, err)
		}
		out = append(out, abs)
	}
	return out, nil
}

// underPaths returns each absolute path as the catalog knows it, and says on
// stderr, for each path no scanned root of machine ("" for any) covers, that
// the catalog knows nothing there: an empty answer then does not look like
// "nothing there". A path is kept as given when a root covers it; otherwise
// its symlinks are resolved, and the real path is used when a root covers
// that (a symlink to a scanned directory: the catalog has the files under
// their real names).
func (a *app) underPaths(ctx context.Context, cat *service.Catalog, machine string, paths []string) ([]string, error) {
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		ok, err := cat.Covered(ctx, machine, p)
		if err != nil {
			return nil, err
		}
		if !ok {
			if real, rerr := filepath.EvalSymlinks(p); rerr == nil && real != p {
				if ok, err = cat.Covered(ctx, machine, real); err != nil {
					return nil, err
				}
				if ok {
					p = real
				}
			}
		}
		if !ok {
			fmt.Fprintf(a.stderr, "indexer: %s is not under any scanned root; run 'indexer scan %s' to catalog it\n", displayPath(p), displayPath(p))
		}
		out = append(out, p)
	}
	return out, nil
}

// explicitMachine returns the --machine the user gave on the command line, or
// "" when none was given: queries then span all machines. (The flag's default,
// the host name, is what scan records, not a filter.)
func explicitMachine(cmd *cobra.Command, a *app) string {
	if f := cmd.Flags().Lookup("machine"); f != nil && f.Changed {
		return a.machine
	}
	return ""
}

// sizeFlag parses a size option, naming the flag in the error.
func sizeFlag(name, v string) (int64, error) {
	n, err := bytesize.Parse(v)
	if err != nil {
		return 0, usageError("--%s: %w", name, err)
	}
	return n, nil
}

// jsonArray writes a JSON array one element at a time, so that a listing
// never has to be held in memory.
type jsonArray struct {
	w *bufio.Writer
	n int
}

func (j *jsonArray) add(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if j.n == 0 {
		j.w.WriteString("[\n")
	} else {
		j.w.WriteString(",\n")
	}
	j.n++
	_, err = j.w.Write(b)
	return err
}

func (j *jsonArray) close() error {
	if j.n == 0 {
		j.w.WriteString("[]\n")
	} else {
		j.w.WriteString("\n]\n")
	}
	return j.w.Flush()
}

// thousands writes n with comma separators: 1,234,567.
func thousands(n int64) string { return numfmt.Thousands(n) }

// plural says "1 file" or "2 files", "1 entry" or "2 entries", with
// thousands separators, as every count in text output has.
func plural(n int64, noun string) string { return numfmt.Plural(n, noun) }

// rate writes n bytes over d as a speed in binary units ("48.2 MiB/s"), or
// "" when d is under a second: so short a time measures start-up costs
// rather than a speed.
func rate(n int64, d time.Duration) string {
	if d < time.Second {
		return ""
	}
	return bytesize.Format(int64(float64(n)/d.Seconds())) + "/s"
}

// exactAcrossMachines refuses an exact format (bare paths, for programs)
// over a catalog of several machines when no --machine chose one: a
// "machine:" prefix would make a line that is no file name, and another
// machine's path is no file here. Text, csv and json name each file's
// machine and stay available.
func (a *app) exactAcrossMachines(ctx context.Context, cat *service.Catalog, format string) error {
	ms, err := cat.Machines(ctx)
	if err != nil {
		return err
	}
	return usageError("%s prints bare paths and the catalog holds %d machines (%s): pass --machine NAME (this one is %s), or use --format csv or json to list them all",
		format, len(ms), strings.Join(ms, ", "), a.machine)
}

// openListing opens the catalog for a listing and tells whether it names
// several machines, so that paths get a "machine:" prefix. With machine set
// only that machine is listed, and no prefix is needed.
func (a *app) openListing(ctx context.Context, machine string) (*service.Catalog, bool, error) {
	cat, err := a.openExisting(ctx)
	if err != nil {
		return nil, false, err
	}
	if machine != "" {
		return cat, false, nil
	}
	ms, err := cat.Machines(ctx)
	if err != nil {
		cat.Close()
		return nil, false, err
	}
	return cat, len(ms) > 1, nil
}
