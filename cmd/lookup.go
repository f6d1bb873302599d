package cmd

import (
	"bufio"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/indexer/indexer/internal/dto"
)

func init() { register(newLookupCmd) }

func newLookupCmd(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:   "lookup FILE...",
		Short: "Tell whether the content of local files is already in the catalog, and where",
		Long: `lookup reads each FILE once, computes its md5, sha1 and sha256 as scan does,
and looks its content (by sha256) up in the catalog: every present file with
the same content, on every machine, archive entries included. This answers "do
I already have this photo?" without scanning anything.

Exit codes follow grep: 0 when every FILE was found, 1 when at least one was
not, 2 on a usage error, when the catalog cannot be read, or when a FILE could
not be read (that FILE is named on stderr, the others are still looked up). --json prints [{file, sha256, size,
found, locations:[{machine, path}]}]; a FILE that could not be read has "error"
instead, and a name that is not valid UTF-8 gets "file_b64".`,
		Example: `  indexer lookup IMG_0042.jpg
  indexer lookup ~/Downloads/*.pdf --json
  indexer lookup photo.jpg && rm photo.jpg`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := a.openExisting(cmd.Context())
			if err != nil {
				// Not 1: that means "not found", and a catalog that cannot
				// be read says nothing about the files.
				return withCode(ExitUsage, err)
			}
			defer cat.Close()
			w := bufio.NewWriter(a.stdout)
			arr := &jsonArray{w: w}
			missing, unreadable := 0, 0
			err = cat.Lookup(cmd.Context(), args, func(r dto.LookupResult) error {
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
				return writeLookup(w, r)
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
	return c
}

func writeLookup(w *bufio.Writer, r dto.LookupResult) error {
	name := displayPath(r.File)
	switch {
	case r.Error != "":
		// Said on stderr already.
	case !r.Found:
		fmt.Fprintf(w, "%s: not found\n", name)
	default:
		places := "places"
		if len(r.Locations) == 1 {
			places = "place"
		}
		fmt.Fprintf(w, "%s: found in %d %s\n", name, len(r.Locations), places)
		for _, l := range r.Locations {
			fmt.Fprintf(w, "  %s\n", location(l.Machine, l.Path, l.ArchivePath, true))
		}
	}
	return nil
}
