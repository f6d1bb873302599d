package cmd

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/service"
)

func init() { register(newLookupCmd) }

func newLookupCmd(a *app) *cobra.Command {
	var noCheck, null bool
	c := &cobra.Command{
		Use:   "lookup FILE... | lookup -",
		Short: "Tell whether the content of local files is already in the catalog, and where",
		Long: `lookup reads each FILE once, computes its md5, sha1 and sha256 as scan does,
and looks its content (by sha256) up in the catalog: every present file with
the same content, on every machine, archive entries included. This answers "do
I already have this photo?" without scanning anything. With "-" the file names
are read from stdin, one per line, or NUL-separated with -0 (find -print0);
name a file called "-" as ./-.

The FILE itself is no copy of itself: a catalogued place that is the FILE
(this machine, the same absolute path, or the same device and inode) is shown
apart as "this file is catalogued at ...". Every other place on this machine
(--machine) is checked on disk: it counts only when the file there (for an
archive entry, its archive) still has the catalogued size and modification
time; a place gone or changed since the last scan is shown apart and does not
count. --no-check trusts the catalog instead. Places on other machines cannot
be checked: they count, and are marked as not checked.

Exit codes follow grep: 0 when every FILE was found elsewhere, 1 when at least
one was not, 2 on a usage error, when the catalog cannot be read, or when a
FILE could not be read (that FILE is named on stderr, the others are still
looked up). --json prints [{file, sha256, size, found, locations:[{machine,
path, check}], self:[...], stale:[...]}]; a FILE that could not be read has
"error" instead, and a name that is not valid UTF-8 gets "file_b64".`,
		Example: `  indexer lookup IMG_0042.jpg
  indexer lookup ~/Downloads/*.pdf --json
  find ~/Downloads -type f -print0 | indexer lookup -0 -
  indexer lookup photo.jpg && echo "photo.jpg has a verified copy elsewhere"`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError("lookup needs at least one FILE, or - to read names from stdin (see 'indexer lookup --help')")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			files, err := lookupNames(args, a.stdin, null)
			if err != nil {
				return err
			}
			cat, multi, err := a.openListing(cmd.Context(), "")
			if err != nil {
				// Not 1: that means "not found", and a catalog that cannot
				// be read says nothing about the files.
				return withCode(ExitUsage, err)
			}
			defer cat.Close()
			w := bufio.NewWriter(a.stdout)
			arr := &jsonArray{w: w}
			missing, unreadable := 0, 0
			opts := service.LookupOptions{Machine: a.machine, NoCheck: noCheck}
			err = cat.Lookup(cmd.Context(), files, opts, func(r dto.LookupResult) error {
				switch {
				case r.Error != "":
					unreadable++
					w.Flush() // keep stdout and stderr in order on a terminal
					fmt.Fprintf(a.stderr, "indexer: %s\n", r.Error)
				case !r.Found:
					missing++
				}
				if a.json {
					return arr.add(r)
				}
				return writeLookup(w, r, multi)
			})
			if err != nil {
				w.Flush()
				return withCode(ExitUsage, fmt.Errorf("lookup: %w", err))
			}
			if a.json {
				err = arr.close()
			} else {
				err = w.Flush()
			}
			switch {
			case err != nil:
				return err
			case unreadable > 0:
				return withCode(ExitUsage, nil)
			case missing > 0:
				return withCode(ExitError, nil)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&noCheck, "no-check", false, "trust the catalog: do not check that places on this machine still hold the file")
	c.Flags().BoolVarP(&null, "null", "0", false, `with "-": file names on stdin end with NUL, not newline`)
	return c
}

// lookupNames returns the file names to look up: args, with "-" replaced by
// the names read from stdin, each ended by a newline, or by NUL when null
// is set. Names are kept byte for byte; empty ones are skipped.
func lookupNames(args []string, stdin io.Reader, null bool) ([]string, error) {
	var out []string
	read := false
	for _, a := range args {
		if a != "-" {
			out = append(out, a)
			continue
		}
		if read {
			return nil, usageError(`"-" (read names from stdin) may be given once`)
		}
		read = true
		sep := byte('\n')
		if null {
			sep = 0
		}
		data, err := io.ReadAll(stdin)
		if err != nil {
			return nil, withCode(ExitUsage, fmt.Errorf("read file names from stdin: %w", err))
		}
		for _, name := range bytes.Split(data, []byte{sep}) {
			if len(name) > 0 {
				out = append(out, string(name))
			}
		}
	}
	if null && !read {
		return nil, usageError(`-0 applies to names read from stdin: pass "-"`)
	}
	return out, nil
}

func writeLookup(w *bufio.Writer, r dto.LookupResult, multi bool) error {
	name := displayPath(r.File)
	switch {
	case r.Error != "":
		return nil // said on stderr already
	case !r.Found:
		fmt.Fprintf(w, "%s: not found\n", name)
	default:
		// Names of one file are one place, as dupes counts copies.
		fmt.Fprintf(w, "%s: found in %s", name, plural(int64(r.Copies), "place"))
		if r.Copies != len(r.Locations) {
			fmt.Fprintf(w, " (%s)", plural(int64(len(r.Locations)), "name"))
		}
		w.WriteByte('\n')
		sets := 0
		for _, l := range r.Locations {
			sets = max(sets, l.Link)
		}
		for _, l := range r.Locations {
			fmt.Fprintf(w, "  %s", location(l.Machine, l.Path, l.ArchivePath, multi))
			switch {
			case l.Link > 0 && sets > 1:
				fmt.Fprintf(w, "  [linked %d]", l.Link)
			case l.Link > 0:
				w.WriteString("  [linked]")
			}
			switch l.Check {
			case dto.CheckOtherMachine:
				w.WriteString("  (on another machine: not checked)")
			case dto.CheckSkipped:
				w.WriteString("  (not checked)")
			}
			w.WriteByte('\n')
		}
	}
	for _, l := range r.Self {
		fmt.Fprintf(w, "  this file is catalogued at %s\n", location(l.Machine, l.Path, l.ArchivePath, multi))
	}
	for _, l := range r.Stale {
		why := l.Check + " since the last scan" // gone, changed
		if l.Check != dto.CheckGone && l.Check != dto.CheckChanged {
			why = l.Check // cannot be checked: CAUSE
		}
		fmt.Fprintf(w, "  catalogued at %s, but %s: not counted\n", location(l.Machine, l.Path, l.ArchivePath, multi), why)
	}
	return nil
}
