package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/indexer/indexer/internal/archive"
	"github.com/indexer/indexer/internal/bytesize"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/service"
	"github.com/indexer/indexer/internal/walk"
)

func init() { register(newScanCmd) }

type scanFlags struct {
	workers        int
	readers        int
	rehash         bool
	followSymlinks bool
	oneFileSystem  bool
	exclude        []string
	quiet          bool
	noArchives     bool
	archiveDepth   int
	archiveBytes   string
	archiveEntries int64
	archiveRatio   float64
	volume         bool
	noVolume       bool
}

func newScanCmd(a *app) *cobra.Command {
	var f scanFlags
	c := &cobra.Command{
		Use:   "scan PATH...",
		Short: "Index directories and files, or bring their catalog entries up to date",
		Long: `scan walks each PATH (a directory or a single file) and records every regular
file with its size, times and md5, sha1 and sha256, computed in one read.

Later scans are incremental: a file whose size, mtime, ctime, inode and device
are unchanged is not read again. Changed files are re-hashed (MOD), new ones
added (ADD), and files no longer found become DEL (their rows are kept). A
directory that cannot be read, or an interrupted scan, never turns files into DEL.

Symlinks are not followed (unless --follow-symlinks), and FIFOs, sockets and
devices are skipped unopened. One bad file never stops a scan: it is listed at
the end.

Archives (zip, tar, tar.gz/bz2/xz/zst/lz4/lz, 7z, rar; recognised by content)
are indexed as files and, unless --no-archives, their regular entries too, each
as ARCHIVE::INNER with its own hashes. An unchanged archive is not opened again.
Limits per archive stop zip bombs; a corrupt archive, or one that reaches a
limit, is listed as failed; encrypted entries are skipped and listed.

Files on a removable or external drive (a USB or removable device, or a FAT,
exFAT, NTFS, UDF, ISO 9660 or HFS+ file system mounted below /media,
/run/media or /mnt) are recorded relative to the drive, under the machine
vol:UUID, so that the drive mounted elsewhere is the same files; --volume
does so for every PATH, --no-volume for none (see docs/travel.md).

Exit status: 0 all indexed, 3 some files (or archives) failed, 130
interrupted, 1 the scan itself failed.`,
		Example: `  indexer scan ~/Pictures /mnt/backup/photos
  indexer scan --exclude '*.tmp' --exclude node_modules ~/src
  indexer scan --json --quiet /srv/share > summary.json
  indexer scan --archive-depth 2 --archive-max-bytes 64GiB /mnt/backups`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError("scan needs at least one PATH (see 'indexer scan --help')")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return a.runScan(cmd.Context(), args, f) },
	}
	fl := c.Flags()
	fl.IntVarP(&f.workers, "workers", "w", 0, "parallel hash workers (default: number of CPUs)")
	fl.IntVar(&f.readers, "readers", 0, "files read at once (default: 2, in inode order, on a rotational disk; 8 elsewhere; a prefetcher keeps 256 small files requested ahead of them)")
	fl.BoolVar(&f.rehash, "rehash", false, "read and hash every file, even unchanged ones")
	fl.BoolVarP(&f.followSymlinks, "follow-symlinks", "L", false, "follow symlinks (loops are detected)")
	fl.BoolVarP(&f.oneFileSystem, "one-file-system", "x", false, "do not descend into other file systems")
	fl.StringArrayVarP(&f.exclude, "exclude", "e", nil, "skip entries whose name or path matches `GLOB` (repeatable)")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no progress display")
	fl.BoolVar(&f.noArchives, "no-archives", false, "do not look inside archives (they are still indexed as files)")
	fl.IntVar(&f.archiveDepth, "archive-depth", archive.DefaultMaxDepth, "archive levels opened: 1 opens archives but not archives inside them")
	fl.StringVar(&f.archiveBytes, "archive-max-bytes", bytesize.Format(archive.DefaultMaxTotalBytes), "uncompressed `SIZE` read from one archive at most (0: no limit)")
	fl.Int64Var(&f.archiveEntries, "archive-max-entries", archive.DefaultMaxEntries, "entries listed in one archive at most (0: no limit)")
	fl.BoolVar(&f.volume, "volume", false, "record the files of every PATH relative to its file system (by UUID or label), as for a removable drive")
	fl.BoolVar(&f.noVolume, "no-volume", false, "record every PATH by its absolute path on this machine, even on a removable drive")
	fl.Float64Var(&f.archiveRatio, "archive-max-ratio", archive.DefaultMaxRatio, "uncompressed/compressed ratio of one archive at most (0: no limit)")
	return c
}

// archiveOptions turns the archive flags into the scan's options.
func (f scanFlags) archiveOptions() (bool, archive.Limits, error) {
	if f.noArchives || f.archiveDepth == 0 {
		return false, archive.Limits{}, nil
	}
	if f.archiveDepth < 0 {
		return false, archive.Limits{}, usageError("--archive-depth must be 1 or more (0 is --no-archives), not %d", f.archiveDepth)
	}
	maxBytes, err := bytesize.Parse(f.archiveBytes)
	if err != nil {
		return false, archive.Limits{}, usageError("--archive-max-bytes %q is not a size such as 500MiB or 16GiB", f.archiveBytes)
	}
	if f.archiveEntries < 0 || f.archiveRatio < 0 {
		return false, archive.Limits{}, usageError("--archive-max-entries and --archive-max-ratio must be 0 (no limit) or more")
	}
	lim := archive.Limits{MaxTotalBytes: int64(maxBytes), MaxEntries: f.archiveEntries, MaxRatio: f.archiveRatio, MaxDepth: f.archiveDepth}
	// In archive.Limits zero means the default and a negative value none.
	if lim.MaxTotalBytes == 0 {
		lim.MaxTotalBytes = -1
	}
	if lim.MaxEntries == 0 {
		lim.MaxEntries = -1
	}
	if lim.MaxRatio == 0 {
		lim.MaxRatio = -1
	}
	return true, lim, nil
}

func (a *app) runScan(ctx context.Context, roots []string, f scanFlags) error {
	if f.workers < 0 {
		return usageError("--workers must be 0 (one per CPU) or more, not %d", f.workers)
	}
	if f.readers < 0 {
		return usageError("--readers must be 0 (chosen by the disk) or more, not %d", f.readers)
	}
	if err := walk.ValidatePatterns(f.exclude); err != nil {
		return usageError("--exclude: %w", err)
	}
	archives, limits, err := f.archiveOptions()
	if err != nil {
		return err
	}
	mode := service.VolumeAuto
	switch {
	case f.volume && f.noVolume:
		return usageError("--volume and --no-volume contradict each other; give one")
	case f.volume:
		mode = service.VolumeForce
	case f.noVolume:
		mode = service.VolumeOff
	}
	c, err := a.open(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	prog := &service.ScanProgress{}
	stop := a.showProgress(prog, f.quiet)
	rep, err := c.Scan(ctx, roots, service.ScanOptions{
		Machine: a.machine, Workers: f.workers, Readers: f.readers, Rehash: f.rehash, FollowSymlinks: f.followSymlinks,
		OneFileSystem: f.oneFileSystem, Exclude: f.exclude, Progress: prog, NoTotals: !a.progressShown(f.quiet),
		Archives: archives, ArchiveLimits: limits, Volume: mode,
	})
	stop()
	if errors.Is(err, service.ErrNoRoots) {
		return err
	}
	if errors.Is(err, service.ErrNoVolumeID) {
		return usageError("%w", err)
	}
	if rep.ID == 0 && err != nil {
		return explainOpen(a.dbPath, err)
	}
	if perr := a.printScan(rep); perr != nil {
		return perr
	}
	switch {
	case errors.Is(err, context.Canceled):
		return withCode(ExitInterrupted, errors.New("scan interrupted; what was hashed is saved, and the next scan resumes cheaply"))
	case err != nil:
		return explainOpen(a.dbPath, err)
	case rep.Status == dto.ScanPartial:
		return withCode(ExitPartial, fmt.Errorf("%s could not be indexed (listed above)", plural(rep.Counts.Failed, "file")))
	}
	return nil
}

func (a *app) printScan(rep service.ScanReport) error {
	sum := rep.Result()
	if a.json {
		return a.printJSON(sum)
	}
	by := sum.SkippedByReason
	w := a.stdout
	c := rep.Counts
	seen := plural(c.FilesSeen, "file") + " seen"
	if rep.ArchiveEntries > 0 {
		// stats counts files and archive entries apart: say how this count splits.
		seen += fmt.Sprintf(" (%s, %s)", plural(c.FilesSeen-rep.ArchiveEntries, "file"), plural(rep.ArchiveEntries, "archive entry"))
	}
	fmt.Fprintf(w, "scan #%d %s in %s: %s, %s added, %s modified, %s deleted, %s unchanged, %s skipped, %s failed\n",
		rep.ID, rep.Status, rep.Duration.Round(time.Millisecond), seen, thousands(c.Added),
		thousands(c.Modified), thousands(c.Deleted), thousands(c.Unchanged), thousands(c.Skipped), thousands(c.Failed))
	hashed := "hashed " + bytesize.Format(c.BytesHashed)
	if r := rate(c.BytesHashed, rep.Duration); r != "" && c.BytesHashed > 0 {
		hashed += " at " + r
	}
	fmt.Fprintln(w, hashed)
	for _, v := range rep.Volumes {
		name := v.Label
		if name == "" {
			name = v.UUID
		}
		fmt.Fprintf(w, "volume %s (%s, %s) at %s: files recorded relative to it, as %s\n",
			displayPath(name), v.FSType, v.UUID, displayPath(v.MountPoint), v.Machine)
	}
	if rep.ExcludedGone > 0 {
		fmt.Fprintf(w, "%s marked gone (DEL)\n", plural(rep.ExcludedGone, "excluded row"))
	}
	printSkipReasons(w, by)
	printArchiveSkips(w, rep.Skips)
	// On stderr, just before the closing sentence that counts them: a
	// summary redirected to a file still leaves them on the terminal.
	printFailures(a.stderr, rep.Failures)
	return nil
}

// printSkipReasons counts the skipped entries by reason, one reason a line,
// counts aligned: the reasons are phrases ("the catalog's own file"), which
// read badly after a number.
func printSkipReasons(w io.Writer, by map[string]int64) {
	if len(by) == 0 {
		return
	}
	reasons := make([]string, 0, len(by))
	width := 0
	for r, n := range by {
		reasons = append(reasons, r)
		width = max(width, len(thousands(n)))
	}
	sort.Strings(reasons)
	fmt.Fprintln(w, "skipped:")
	for _, r := range reasons {
		fmt.Fprintf(w, "  %*s  %s\n", width, thousands(by[r]), r)
	}
}

// printArchiveSkips lists what was left out inside archives (encrypted
// entries above all), which a user may not expect; other skips are counted.
func printArchiveSkips(w io.Writer, skips []service.Skip) {
	header := false
	for _, s := range skips {
		switch s.Reason {
		case service.ReasonEncrypted, service.ReasonDuplicateEntry, service.ReasonUnnamedEntry:
		default:
			continue
		}
		if !header {
			fmt.Fprintf(w, "not indexed in archives:\n")
			header = true
		}
		fmt.Fprintf(w, "  %s: %s\n", displayPath(s.Path), s.Reason)
	}
}

func printFailures(w io.Writer, fs []service.Failure) {
	if len(fs) == 0 {
		return
	}
	fmt.Fprintf(w, "failed:\n")
	for _, f := range fs {
		fmt.Fprintf(w, "  %s: %v\n", displayPath(f.Path), f.Err)
	}
}
