package cmd

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
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
	var yes, wait, force bool
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
Afterwards the counts read from the restored catalog must equal the backup's.

restore works when the catalog cannot be opened, too: when it is damaged,
truncated, not an SQLite database at all, or of a newer schema, a raw byte copy
of it (and of its -wal, if any) is kept in backups/ with a -damaged (or
-newer-schema) suffix instead, and the backup is moved in without opening the
old file. When --db names another program's SQLite database, restore refuses
unless --force (a mistyped --db is the likelier story). When there is no
catalog yet, restore creates it from SRC.`,
		Example: `  indexer backup --list
  indexer restore ~/.local/share/indexer/backups/index-20261122T030405Z.db
  indexer restore backup.db --yes --wait --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			src := args[0]
			// Resolved once, symlinks included: the file, its lock and its
			// backups are all named from it.
			// A PostgreSQL catalog is named by its URL.
			catalog := a.dbPath
			if !db.IsPostgres(catalog) {
				var err error
				if catalog, err = db.CatalogPath(a.dbPath); err != nil {
					return err
				}
			}
			shown := db.Redact(catalog)
			if !yes && !restoreAsks(a.stdin) {
				return usageError("restore replaces the catalog %s and there is no terminal to confirm on; pass --yes", shown)
			}
			opts, err := a.dbOptions()
			if err != nil {
				return err
			}
			// SRC is checked in full, and the catalog looked at without opening
			// it, before anyone is asked and before anything is touched: the
			// catalog may be the very thing that cannot be opened.
			plan, err := service.PlanRestore(ctx, catalog, src, opts, service.RestoreOptions{
				Wait:  wait,
				Force: force,
				OnWait: func() {
					fmt.Fprintf(a.stderr, "indexer: catalog %s is in use by another indexer process; waiting for it to finish (Ctrl-C to give up)\n", shown)
				},
			}, a.log)
			if err != nil {
				return err
			}
			if !yes {
				fmt.Fprint(a.stderr, restoreQuestion(plan))
				line, _ := bufio.NewReader(a.stdin).ReadString('\n')
				if answer := strings.ToLower(strings.TrimSpace(line)); answer != "y" && answer != "yes" {
					return errors.New("restore canceled; the catalog was not changed")
				}
			}
			res, err := plan.Run(ctx)
			if errors.Is(err, db.ErrInUse) {
				return fmt.Errorf("catalog %s is in use by another indexer process (a scan?); try again when it finishes or pass --wait", shown)
			}
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(res)
			}
			fmt.Fprintf(a.stdout, "restored %s from %s: %s (%s deleted kept), %s, schema version %d\n",
				res.Catalog, res.RestoredFrom, plural(res.Files, "file"), thousands(res.Deleted), plural(res.Hashes, "hash"), res.SchemaVersion)
			switch {
			case res.Created:
				fmt.Fprintf(a.stdout, "there was no catalog at %s, so restore created it and had nothing to save\n", res.Catalog)
			case res.Damaged:
				fmt.Fprintf(a.stdout, "the file that was there could not be used (%s); a raw copy of it is saved at %s\n", res.Problem, res.SafetyBackup)
				for _, l := range res.SafetyLogs {
					fmt.Fprintf(a.stdout, "the log that was beside it is saved at %s\n", l)
				}
			case res.SafetyBackup != "":
				fmt.Fprintf(a.stdout, "the catalog as it was is saved at %s\n", res.SafetyBackup)
			default:
				fmt.Fprintln(a.stdout, "the catalog was empty, so no safety backup was needed")
			}
			return nil
		},
	}
	c.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	c.Flags().BoolVar(&wait, "wait", false, "wait for running scans to finish instead of failing")
	c.Flags().BoolVar(&force, "force", false, "replace the file at --db even if it is another program's SQLite database")
	return c
}

// restoreQuestion asks for confirmation of plan, saying what happens to what
// lies at the catalog path.
func restoreQuestion(p *service.RestorePlan) string {
	b := p.Source
	what := fmt.Sprintf("%s (%s, %s, taken %s)", b.Path, plural(b.Files, "file"), plural(b.Hashes, "hash"), b.Time.Format("2006-01-02 15:04:05 MST"))
	switch {
	case p.Missing:
		return fmt.Sprintf("There is no catalog at %s. Create it from %s? [y/N] ", p.Catalog, what)
	case p.Problem != nil:
		return fmt.Sprintf("The catalog %s cannot be used: %s. Replace it with %s? A raw copy of it is saved to %s first. [y/N] ",
			p.Catalog, p.Problem, what, service.BackupDir(p.Catalog))
	default:
		return fmt.Sprintf("Replace the catalog %s with %s? The current catalog is saved to %s first. [y/N] ",
			p.Catalog, what, service.BackupDir(p.Catalog))
	}
}
