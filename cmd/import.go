package cmd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/indexer/indexer/internal/service"
)

func init() { register(newImportCmd) }

func newImportCmd(a *app) *cobra.Command {
	var base string
	c := &cobra.Command{
		Use:   "import FILE --machine NAME",
		Short: "Read an md5sum, sha1sum, sha256sum or hashdeep file as files of a machine",
		Long: `import reads a checksum file as catalog rows of the machine --machine names
(it must be given): each file it lists becomes a row at its path, replacing
a row already there. The format is told from the first line: a hashdeep file
starts with "%%%% HASHDEEP-1.0"; anything else is read as the lines of GNU
md5sum, sha1sum or sha256sum (the digest's length tells which; escaped names
and binary mode '*' are understood). Relative names are read below --base.

The rows carry what the file gives: digests and, from hashdeep, the size.
Where a row of the catalog holds the same content, its size and other
digests are filled in; otherwise a *sum file's rows have size 0 until a scan
reads them. No file is read and no validators are recorded, so the next scan
of those paths on that machine reads each file once. A malformed file is
refused before anything is written.`,
		Example: `  indexer import photos.sha256 --machine old-laptop
  indexer import music.hashdeep --machine nas
  indexer import SHA256SUMS --machine usb --base /media/usb`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			machine := explicitMachine(cmd, a)
			if machine == "" {
				return usageError("import needs --machine NAME, the machine whose files FILE lists")
			}
			file := args[0]
			if base != "" {
				var err error
				if base, err = filepath.Abs(base); err != nil {
					return usageError("--base %s: %w", base, err)
				}
			}
			// Fail on an unreadable FILE before creating a catalog.
			f, err := os.Open(file)
			if err != nil {
				return fmt.Errorf("cannot read %s: %w", file, err)
			}
			f.Close()
			cat, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			defer cat.Close()
			res, err := cat.Import(cmd.Context(), func() (io.ReadCloser, error) { return os.Open(file) },
				service.ImportOptions{Machine: machine, Base: base})
			var bad *service.BadImportError
			if errors.As(err, &bad) {
				return fmt.Errorf("%s cannot be imported: %w; nothing was imported", file, bad.Err)
			}
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(res)
			}
			fmt.Fprintf(a.stdout, "imported %d files of %s from %s (%s format)\n", res.Files, machine, file, res.Format)
			if res.Completed > 0 {
				fmt.Fprintf(a.stdout, "%d took their size and other digests from files of this catalog with the same content\n", res.Completed)
			}
			if res.NoSize > 0 {
				fmt.Fprintf(a.stdout, "%d have no size (the file gives none) and count 0 bytes until a scan reads them\n", res.NoSize)
			}
			return nil
		},
	}
	c.Flags().StringVar(&base, "base", "", "directory relative names in FILE are read from")
	return c
}
