package cmd

import (
	"fmt"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/indexer/indexer/internal/bytesize"
	"github.com/indexer/indexer/internal/digest"
)

func init() { register(newHashrateCmd) }

// newHashrateCmd is a hidden developer command: the benchmark uses it to know
// the hashing ceiling of this binary on this machine.
func newHashrateCmd(a *app) *cobra.Command {
	var seconds float64
	var workers int
	c := &cobra.Command{
		Use:     "hashrate",
		Short:   "Measure in-memory md5+sha1+sha256 throughput on all cores (for benchmarks)",
		Example: "  indexer hashrate --seconds 2 --json",
		Hidden:  true,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if workers <= 0 {
				workers = max(runtime.NumCPU(), digest.Streams())
			}
			if seconds <= 0 {
				return usageError("--seconds must be positive")
			}
			bps := digest.Rate(cmd.Context(), workers, time.Duration(seconds*float64(time.Second)))
			if a.json {
				return a.printJSON(map[string]any{"workers": workers, "md5": digest.MD5(), "bytes_per_second": bps})
			}
			fmt.Fprintf(a.stdout, "%s/s with %d workers, md5 by %s\n", bytesize.Format(int64(bps)), workers, digest.MD5())
			return nil
		},
	}
	c.Flags().Float64Var(&seconds, "seconds", 2, "how long to measure")
	c.Flags().IntVar(&workers, "workers", 0, "goroutines (default: as many as a scan has)")
	return c
}
