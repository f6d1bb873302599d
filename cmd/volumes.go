package cmd

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/indexer/indexer/internal/bytesize"
)

func init() { register(newVolumesCmd) }

func newVolumesCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "volumes",
		Short: "List the drives whose files are recorded relative to them, mounted or not",
		Long: `volumes lists the volumes (file systems) whose files the catalog records
relative to them: removable and external drives, and what scan --volume
recorded (see docs/travel.md). For each: its label, UUID, file system type,
files and bytes catalogued, its last scan (id, start, computer and mount
point), and whether it is mounted now, and where.

--json prints an array of {machine, label, uuid, fs_type, files, bytes,
last_scan_id, last_scanned, last_host, last_mount_point, mounted,
mount_points}.`,
		Example: `  indexer volumes
  indexer volumes --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := a.openExisting(cmd.Context())
			if err != nil {
				return err
			}
			defer cat.Close()
			vols, err := cat.Volumes(cmd.Context())
			if err != nil {
				return fmt.Errorf("list volumes: %w", err)
			}
			if a.json {
				return a.printJSON(vols)
			}
			w := bufio.NewWriter(a.stdout)
			if len(vols) == 0 {
				w.WriteString("no volumes: no scan has recorded files relative to their drive\n")
			}
			for _, v := range vols {
				label := v.Label
				if label == "" {
					label = "(no label)"
				}
				fmt.Fprintf(w, "%s  %s  %s  %s, %s\n", displayPath(label), v.UUID, v.FSType,
					plural(v.Files, "file"), bytesize.Format(v.Bytes))
				when := "never finished"
				if v.LastScanned != "" {
					when = strings.Replace(v.LastScanned[:min(len(v.LastScanned), 16)], "T", " ", 1)
				}
				fmt.Fprintf(w, "  last scan #%d %s on %s at %s\n", v.LastScan, when, v.LastHost, displayPath(v.LastMount))
				if v.Mounted {
					for _, m := range v.MountPoints {
						fmt.Fprintf(w, "  mounted at %s\n", displayPath(m))
					}
				} else {
					w.WriteString("  offline\n")
				}
			}
			return w.Flush()
		},
	}
}
