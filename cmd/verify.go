package cmd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/indexer/indexer/internal/bytesize"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/service"
)

func init() { register(newVerifyCmd) }

type verifyFlags struct {
	sample    float64
	maxBytes  string
	olderThan string
	accept    bool
	workers   int
	quiet     bool
}

func newVerifyCmd(a *app) *cobra.Command {
	var f verifyFlags
	c := &cobra.Command{
		Use:   "verify [PATH...]",
		Short: "Re-read catalogued files and compare their digests with the catalog (bit rot)",
		Long: `verify reads this machine's catalogued files again (those at or below each
PATH, or all of them; --machine picks another machine's catalog rows) and
compares their md5, sha1 and sha256 with what the catalog holds:

  corrupt     the content differs while size and mtime are as catalogued: bit
              rot, a bad sector or tampering; expected and actual digests are
              shown
  changed     size or mtime differ, or another file took its place (same size
              and mtime, another inode): changed since the last scan, not
              corruption; a rescan takes it
  missing     the file, or an archive entry, is gone
  unreadable  the file could not be read; the cause is shown

Entries of archives are verified by reading their archive. Each file's last
verification is recorded, so that --older-than and --sample spread the work
over days, like a scrub: --sample 10 checks the tenth of the files verified
least recently. Ctrl-C stops; what was verified is recorded. Corruption stays
on record ('indexer stats', 'indexer health') until a rescan rehashes the file
or 'verify --accept PATH' takes its new content as good.

Exit status: 0 no corruption and every file could be read, 4 corruption found,
3 some files could not be read (unreadable), 130 interrupted. Changed and
missing files are listed but do not change the exit status.`,
		Example: `  indexer verify
  indexer verify ~/Pictures --json > findings.json
  indexer verify --older-than 30d --max-bytes 200GiB
  indexer verify --accept ~/Pictures/edited.jpg`,
		RunE: func(cmd *cobra.Command, args []string) error { return a.runVerify(cmd.Context(), args, f) },
	}
	fl := c.Flags()
	fl.Float64Var(&f.sample, "sample", 0, "verify only this `PERCENT` of the files, least recently verified first")
	fl.StringVar(&f.maxBytes, "max-bytes", "", "read at most about `SIZE` (such as 50GiB), least recently verified first")
	fl.StringVar(&f.olderThan, "older-than", "", "only files not verified within `DURATION` (such as 30d or 12h)")
	fl.BoolVar(&f.accept, "accept", false, "take the content of the corrupt files found under PATH as good")
	fl.IntVarP(&f.workers, "workers", "w", 0, "parallel hash workers (default: number of CPUs)")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress display")
	return c
}

func (a *app) runVerify(ctx context.Context, paths []string, f verifyFlags) error {
	o := service.VerifyOptions{Machine: a.machine, Paths: paths, SamplePercent: f.sample, Accept: f.accept, Workers: f.workers}
	switch {
	case f.sample < 0 || f.sample > 100:
		return usageError("--sample %g is not a percentage from 0 to 100", f.sample)
	case f.workers < 0:
		return usageError("--workers must be 0 (one per CPU) or more, not %d", f.workers)
	case f.accept && len(paths) == 0:
		return usageError("--accept needs the PATHs whose new content to take as good")
	}
	if f.maxBytes != "" {
		n, err := sizeFlag("max-bytes", f.maxBytes)
		if err != nil {
			return err
		}
		o.MaxBytes = n
	}
	if f.olderThan != "" {
		d, err := parseAge(f.olderThan)
		if err != nil {
			return usageError("--older-than: %w", err)
		}
		o.OlderThan = d
	}
	c, err := a.open(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	o.Progress = &service.ScanProgress{}
	stop := a.showProgress(o.Progress, f.quiet)
	rep, err := c.Verify(ctx, o)
	stop()
	if err != nil && !errors.Is(err, context.Canceled) {
		return explainOpen(a.dbPath, err)
	}
	if a.json {
		if rep.Findings == nil {
			rep.Findings = []service.VerifyFinding{}
		}
		if perr := a.printJSON(rep); perr != nil {
			return perr
		}
	} else {
		a.printVerify(rep)
	}
	switch {
	case err != nil:
		return withCode(ExitInterrupted, errors.New("verify interrupted; what was verified is recorded"))
	case rep.Corrupt > 0 && f.accept:
		return nil
	case rep.Corrupt > 0:
		return withCode(ExitCorrupt, fmt.Errorf("%s found corrupt (listed above)", plural(rep.Corrupt, "file")))
	case rep.Unreadable > 0:
		return withCode(ExitPartial, fmt.Errorf("%s could not be read (listed above)", plural(rep.Unreadable, "file")))
	}
	return nil
}

func (a *app) printVerify(rep service.VerifyReport) {
	w := a.stdout
	for _, f := range rep.Findings {
		loc := location("", f.Path, f.ArchivePath, false)
		switch f.Outcome {
		case dto.VerifyCorrupt:
			what := "corrupt"
			if f.Accepted {
				what = "accepted"
			}
			fmt.Fprintf(w, "%-10s  %s\n", what, loc)
			if f.Expected != nil {
				act := service.Digests{MD5: "(unreadable)", SHA1: "(unreadable)", SHA256: "(unreadable)"}
				if f.Actual != nil {
					act = *f.Actual
				}
				fmt.Fprintf(w, "            md5    expected %s, read %s\n", f.Expected.MD5, act.MD5)
				fmt.Fprintf(w, "            sha1   expected %s, read %s\n", f.Expected.SHA1, act.SHA1)
				fmt.Fprintf(w, "            sha256 expected %s, read %s\n", f.Expected.SHA256, act.SHA256)
			}
			if f.Detail != "" {
				fmt.Fprintf(w, "            %s\n", f.Detail)
			}
		case dto.VerifyChanged:
			detail := "changed since the last scan"
			if f.Detail != "" {
				detail += ": " + f.Detail
			}
			fmt.Fprintf(w, "%-10s  %s (%s)\n", "changed", loc, detail)
		case dto.VerifyMissing:
			if f.Detail != "" {
				fmt.Fprintf(w, "%-10s  %s (%s)\n", "missing", loc, f.Detail)
			} else {
				fmt.Fprintf(w, "%-10s  %s\n", "missing", loc)
			}
		case dto.VerifyUnreadable:
			fmt.Fprintf(w, "%-10s  %s: %s\n", "unreadable", loc, f.Detail)
		case dto.VerifyOffline:
			fmt.Fprintf(w, "%-10s  %s (%s)\n", "offline", loc, f.Detail)
		}
	}
	fmt.Fprintf(w, "verified %s (%s read) in %s: %s ok, %s corrupt, %s changed, %s missing, %s unreadable\n",
		plural(rep.Checked, "file"), bytesize.Format(rep.Bytes), rep.Duration.Round(time.Millisecond),
		thousands(rep.OK), thousands(rep.Corrupt), thousands(rep.Changed), thousands(rep.Missing), thousands(rep.Unreadable))
	if rep.Offline > 0 {
		fmt.Fprintf(w, "not checked: %s on volumes that are not mounted\n", plural(rep.Offline, "file"))
	}
}
