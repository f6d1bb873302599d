package cmd

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/indexer/indexer/internal/bytesize"
	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/service"
)

func init() { register(newBackupCmd) }

func newBackupCmd(a *app) *cobra.Command {
	var force, list bool
	c := &cobra.Command{
		Use:   "backup [DEST]",
		Short: "Write a verified snapshot of the catalog, or list the backups",
		Long: `backup writes a consistent snapshot of the catalog while scans and queries in
other processes carry on (SQLite's online backup API, never a plain file copy).
The snapshot goes to a temporary file, is fsynced and verified (integrity_check,
schema version, row counts) and only then renamed into place.

Without DEST the backup goes to backups/ beside the catalog, named after the
catalog and the UTC time: backups/index-20261122T030405Z.db. DEST may be a file
or a directory. An existing file is never overwritten without --force.

With --list, backup lists the backups in backups/ with their time, size and
counts, oldest first.`,
		Example: `  indexer backup
  indexer backup /mnt/usb/
  indexer backup ~/catalog-before-cleanup.db --force
  indexer backup --list --json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if list {
				if len(args) > 0 || force {
					return usageError("--list takes neither DEST nor --force")
				}
				catalog, err := db.CatalogPath(a.dbPath)
				if err != nil {
					return err
				}
				bs, err := service.ListBackups(ctx, catalog)
				if err != nil {
					return err
				}
				if a.json {
					return a.printJSON(bs)
				}
				return printBackupList(a, catalog, bs)
			}
			cat, err := a.openExisting(ctx)
			if err != nil {
				return err
			}
			defer cat.Close()
			dst := ""
			if len(args) == 1 {
				dst = args[0]
			}
			b, err := cat.Backup(ctx, dst, force)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(b)
			}
			fmt.Fprintf(a.stdout, "backup written to %s\n", b.Path)
			fmt.Fprintf(a.stdout, "  size    %s (%s)\n", bytesize.Format(b.Bytes), plural(b.Bytes, "byte"))
			fmt.Fprintf(a.stdout, "  files   %s (%s deleted kept)\n", thousands(b.Files), thousands(b.Deleted))
			fmt.Fprintf(a.stdout, "  hashes  %s\n", thousands(b.Hashes))
			fmt.Fprintf(a.stdout, "  schema  version %d, integrity %s\n", b.SchemaVersion, b.Integrity)
			return nil
		},
	}
	c.Flags().BoolVar(&force, "force", false, "overwrite DEST if it exists")
	c.Flags().BoolVar(&list, "list", false, "list the backups in backups/ beside the catalog")
	return c
}

func printBackupList(a *app, catalog string, bs []dto.Backup) error {
	if len(bs) == 0 {
		fmt.Fprintf(a.stdout, "no backups in %s\n", service.BackupDir(catalog))
		return nil
	}
	w := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "TIME\tSIZE\tFILES\tHASHES\tPATH")
	for _, b := range bs {
		if b.Error != "" {
			fmt.Fprintf(w, "%s\t%s\t-\t-\t%s (unreadable: %s)\n", b.Time.Format(time.RFC3339), bytesize.Format(b.Bytes), displayPath(b.Path), b.Error)
			continue
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", b.Time.Format(time.RFC3339), bytesize.Format(b.Bytes), thousands(b.Files), thousands(b.Hashes), displayPath(b.Path))
	}
	return w.Flush()
}
