package cmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/service"
)

func init() { register(newHealthCmd) }

func newHealthCmd(a *app) *cobra.Command {
	var full bool
	c := &cobra.Command{
		Use:   "health",
		Short: "Check that the catalog is usable",
		Long: `health opens the catalog without creating it and checks its schema, journal
mode, page integrity (quick_check, or integrity_check with --full), foreign keys,
latency, pools, counts and the last scan. It exits 0 when the catalog is ok or
degraded, and 1 when a check fails.`,
		Example: `  indexer health
  indexer health --full --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := a.dbOptions()
			if err != nil {
				return err
			}
			h := service.Health(cmd.Context(), a.dbPath, opts, full)
			if a.json {
				if err := a.printJSON(h); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(a.stdout, "catalog %s: %s\n", h.Path, h.Status)
				for _, c := range h.Checks {
					fmt.Fprintf(a.stdout, "  %-14s %-8s %s\n", c.Name, c.Status, c.Detail)
				}
			}
			if h.Status == dto.StatusFail {
				return withCode(ExitError, nil)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&full, "full", false, "run the full integrity_check instead of quick_check")
	return c
}
