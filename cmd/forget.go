package cmd

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/indexer/indexer/internal/service"
)

func init() { register(newForgetCmd) }

func newForgetCmd(a *app) *cobra.Command {
	var (
		deleted   bool
		olderThan string
	)
	c := &cobra.Command{
		Use:   "forget PATH... | forget --deleted [--older-than DURATION]",
		Short: "Remove catalog rows: those below PATH, or those of deleted files",
		Long: `forget removes rows from the catalog, never files from disk.

forget PATH... removes every row of the machine (--machine, by default this
host, as scan records) at or below each PATH, whatever its state: a root you
no longer want catalogued, or excluded files left from before an --exclude.
A later scan of PATH adds them again.

forget --deleted removes the rows of files a scan found gone (DEL), on every
machine; with --older-than DURATION only those no scan has seen for that long
(such as 720h, 30d, 1d12h).

Rows go in transactions of 200; an interrupted forget keeps what it removed.
It prints how many rows it removed and how many of them were entries inside
archives (--json: {"rows","archive_entries"}).`,
		Example: `  indexer forget /mnt/old-disk
  indexer forget --machine nas /srv/tmp
  indexer forget --deleted --older-than 90d`,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case deleted && len(args) > 0:
				return usageError("forget takes PATH... or --deleted, not both")
			case !deleted && len(args) == 0:
				return usageError("forget needs a PATH, or --deleted (see 'indexer forget --help')")
			case !deleted && cmd.Flags().Changed("older-than"):
				return usageError("--older-than goes with --deleted")
			}
			var before time.Time
			if olderThan != "" {
				d, err := parseAge(olderThan)
				if err != nil {
					return usageError("--older-than: %w", err)
				}
				before = time.Now().Add(-d)
			}
			paths, err := absPaths(args)
			if err != nil {
				return err
			}
			cat, err := a.openExisting(cmd.Context())
			if err != nil {
				return err
			}
			defer cat.Close()
			var got service.Forgotten
			if deleted {
				got, err = cat.ForgetDeleted(cmd.Context(), before)
			} else {
				got, err = cat.ForgetUnder(cmd.Context(), a.machine, paths)
			}
			if perr := a.printForgotten(got); perr != nil {
				return perr
			}
			if errors.Is(err, context.Canceled) {
				return withCode(ExitInterrupted, errors.New("forget interrupted; the rows counted above are removed"))
			}
			if err != nil {
				return explainOpen(a.dbPath, fmt.Errorf("forget: %w", err))
			}
			return nil
		},
	}
	f := c.Flags()
	f.BoolVar(&deleted, "deleted", false, "remove the rows of files a scan found gone")
	f.StringVar(&olderThan, "older-than", "", "with --deleted: only rows no scan has seen for this `DURATION` (such as 30d or 12h)")
	return c
}

func (a *app) printForgotten(f service.Forgotten) error {
	if a.json {
		return a.printJSON(f)
	}
	_, err := fmt.Fprintf(a.stdout, "forgot %s (%s inside archives)\n", plural(f.Rows, "row"), plural(f.ArchiveEntries, "entry"))
	return err
}

// parseAge reads a duration as time.ParseDuration does, with d for days
// (24h) too: 30d, 1d12h.
func parseAge(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New("the duration is empty; give one such as 30d or 720h")
	}
	var days int64
	rest := s
	if i := strings.Index(s, "d"); i >= 0 {
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q is not a duration such as 30d, 720h or 1d12h", s)
		}
		days, rest = n, s[i+1:]
	}
	var d time.Duration
	if rest != "" {
		var err error
		if d, err = time.ParseDuration(rest); err != nil || d < 0 {
			return 0, fmt.Errorf("%q is not a duration such as 30d, 720h or 1d12h", s)
		}
	}
	return time.Duration(days)*24*time.Hour + d, nil
}
