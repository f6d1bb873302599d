package cmd

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/service"
)

func init() { register(newRestoreCmd) }

// restoreAsks reports whether restore can ask for confirmation on in: only a
// terminal has someone to answer. Tests replace it.
var restoreAsks = func(in io.Reader) bool {
	f, ok := in.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

func newRestoreCmd(a *app) *cobra.Command {
	var yes, wait bool
	c := &cobra.Command{
		Use:   "restore SRC",
		Short: "Replace the catalog with a backup",
		Long: `restore replaces the catalog's content with the backup SRC. It is destructive:
on a terminal it asks for confirmation, otherwise it needs --yes.

SRC is checked before anything is touched: it must be an SQLite database that
passes integrity_check and carries indexer's schema, of this version or an older
one (an older one is upgraded). A file that is not SQLite, is truncated or
damaged, belongs to another program, or was written by a newer indexer is
refused, and the catalog is left byte for byte as it was.

The current catalog is first saved to backups/ beside it, with a -pre-restore
suffix. restore needs the catalog to itself: while another indexer process (a
scan) has it open, restore fails at once, or with --wait waits for it to finish.
Afterwards the counts read from the restored catalog must equal the backup's.`,
		Example: `  indexer backup --list
  indexer restore ~/.local/share/indexer/backups/index-20261122T030405Z.db
  indexer restore backup.db --yes --wait --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			src := args[0]
			catalog, err := filepath.Abs(a.dbPath)
			if err != nil {
				return err
			}
			if !yes && !restoreAsks(a.stdin) {
				return usageError("restore replaces the catalog %s and there is no terminal to confirm on; pass --yes", catalog)
			}
			// A quick look first: a bad SRC is refused before a catalog is
			// opened (or created) and before anyone is asked.
			info, err := service.InspectBackup(ctx, src)
			if err != nil {
				return err
			}
			if !yes {
				fmt.Fprintf(a.stderr, "Replace the catalog %s with %s (%d files, %d hashes, taken %s)? The current catalog is saved to %s first. [y/N] ",
					catalog, src, info.Files, info.Hashes, info.Time.Format("2006-01-02 15:04:05 MST"), service.BackupDir(catalog))
				line, _ := bufio.NewReader(a.stdin).ReadString('\n')
				if answer := strings.ToLower(strings.TrimSpace(line)); answer != "y" && answer != "yes" {
					return errors.New("restore canceled; the catalog was not changed")
				}
			}
			cat, err := a.open(ctx)
			if err != nil {
				return err
			}
			defer cat.Close()
			res, err := cat.Restore(ctx, src, service.RestoreOptions{
				Wait: wait,
				OnWait: func() {
					fmt.Fprintf(a.stderr, "indexer: catalog %s is in use by another indexer process; waiting for it to finish (Ctrl-C to give up)\n", catalog)
				},
			})
			if errors.Is(err, db.ErrInUse) {
				return fmt.Errorf("catalog %s is in use by another indexer process (a scan?); try again when it finishes or pass --wait", catalog)
			}
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(res)
			}
			fmt.Fprintf(a.stdout, "restored %s from %s: %d files (%d deleted kept), %d hashes, schema version %d\n",
				res.Catalog, res.RestoredFrom, res.Files, res.Deleted, res.Hashes, res.SchemaVersion)
			if res.SafetyBackup != "" {
				fmt.Fprintf(a.stdout, "the catalog as it was is saved at %s\n", res.SafetyBackup)
			} else {
				fmt.Fprintln(a.stdout, "the catalog was empty, so no safety backup was needed")
			}
			return nil
		},
	}
	c.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	c.Flags().BoolVar(&wait, "wait", false, "wait for running scans to finish instead of failing")
	return c
}
