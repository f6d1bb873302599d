package cmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/indexer/indexer/internal/service"
)

func init() { register(newMergeCmd) }

func newMergeCmd(a *app) *cobra.Command {
	var (
		machines []string
		replace  bool
	)
	c := &cobra.Command{
		Use:   "merge SRC.db [--machine NAME]... [--replace]",
		Short: "Bring the files and scans of another catalog into this one",
		Long: `merge brings the rows of another catalog (SRC.db, a catalog file of this or
an older schema version) into this one, machine by machine: all of SRC's
machines, or those --machine names (repeat it for several). A machine this
catalog does not hold is copied. One it holds is merged file by file, keeping
for each path the row of the later scan; with --replace its rows and scans
here are removed first and SRC's take their place. The scans come along,
under new ids. Merging the same SRC again changes nothing.

SRC is checked as restore checks a backup, and read from a copy (upgraded
when its schema is older): a damaged, truncated or foreign file is refused
before this catalog is touched. Directory digests (dupes --dirs) and the
change log (diff) of SRC are not merged; the next scan of a merged machine's
directories records them.`,
		Example: `  indexer merge laptop.db
  indexer merge nas-catalog.db --machine nas --replace`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, m := range machines {
				if m == "" {
					return usageError("--machine must not be empty")
				}
			}
			src, err := service.OpenMergeSource(cmd.Context(), a.dbPath, args[0])
			if err != nil {
				return err
			}
			defer src.Close()
			cat, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			defer cat.Close()
			res, err := cat.Merge(cmd.Context(), src, service.MergeOptions{Machines: machines, Replace: replace})
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(res)
			}
			for _, m := range res {
				fmt.Fprintf(a.stdout, "%s: %s, %d scans added, %d files written, %d kept", m.Machine, m.How, m.Scans, m.Written, m.Kept)
				if m.How == "replaced" {
					fmt.Fprintf(a.stdout, ", %d removed first", m.Removed)
				}
				fmt.Fprintln(a.stdout)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringArrayVar(&machines, "machine", nil, "merge only the machine `NAME` of SRC (repeat for several)")
	f.BoolVar(&replace, "replace", false, "replace a machine both catalogs hold instead of merging it file by file")
	return c
}
