package cmd

import (
	"fmt"

	"github.com/spf13/cobra"
)

func init() { register(newHistoryCmd) }

func newHistoryCmd(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:   "history",
		Short: "Manage the change log that diff reads",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	var before string
	prune := &cobra.Command{
		Use:   "prune --before DATE",
		Short: "Drop the change log of the scans started before DATE",
		Long: `prune drops the change log entries of every scan (of every machine) started
before DATE: 2006-01-02, '2006-01-02 15:04' (local time) or RFC 3339. The
files' rows are untouched; only 'indexer diff' over intervals that reach before
DATE is affected, and says so.`,
		Example: `  indexer history prune --before 2024-01-01`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if before == "" {
				return usageError("history prune needs --before DATE")
			}
			b, err := parseBound("before", before)
			if err != nil {
				return err
			}
			if b.Time.IsZero() {
				return usageError("--before %q is not a date such as 2024-05-01 or '2024-05-01 15:04'", before)
			}
			cat, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			defer cat.Close()
			n, err := cat.PruneHistory(cmd.Context(), b.Time)
			if err != nil {
				return explainOpen(a.dbPath, err)
			}
			if a.json {
				return a.printJSON(map[string]int64{"pruned": n})
			}
			fmt.Fprintf(a.stdout, "pruned %s from the change log\n", plural(n, "change"))
			return nil
		},
	}
	prune.Flags().StringVar(&before, "before", "", "drop the changes of scans started before `DATE`")
	c.AddCommand(prune)
	return c
}
