package cmd

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/indexer/indexer/internal/bytesize"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/service"
)

func init() { register(newDedupeCmd) }

func newDedupeCmd(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:   "dedupe",
		Short: "Act on duplicates without losing a file: plan, then apply hard links, reflinks, trash or deletes, and undo",
		Long: `dedupe acts on the duplicates of this machine in two steps. 'dedupe plan'
writes a plan from the catalog alone: for each group of identical files, the
copy kept, the copies acted on, the keep rule that decided, and the
fingerprint each file was catalogued with. 'dedupe apply PLAN' acts on a file
only after checking, right before the action, that it is still a regular
file with the planned fingerprint and that its bytes equal the kept file's;
anything else is skipped and reported. 'dedupe undo MANIFEST' puts trashed
files back.`,
		Args: cobra.NoArgs,
	}
	c.AddCommand(newDedupePlanCmd(a), newDedupeApplyCmd(a), newDedupeUndoCmd(a))
	return c
}

func newDedupePlanCmd(a *app) *cobra.Command {
	var (
		minSize, maxSize, name, action, out string
		under, keep, reference              []string
		dirs, content                       bool
	)
	c := &cobra.Command{
		Use:   "plan [PATH...]",
		Short: "Write a dedupe plan: the copy kept and the copies acted on in each group of duplicates",
		Long: `plan picks, in each group of identical files of this machine (--machine),
the copy to keep and the copies to act on, and writes the plan as JSON to
-o FILE (default: standard output); a summary goes to standard error. It
reads no file. Names of one inode are one copy and share its fate. Archive
entries are never acted on. The filters are those of dupes: PATH and --under,
--min-size (default 1), --max-size, --name.

--keep RULE (repeatable) chooses the copy kept; rules are tried in order, and
path order breaks the ties left: oldest, newest (modification time),
shortest-path, longest-path, shallowest, deepest (directory depth),
under:PATH (prefer keeping a copy below PATH), not-under:PATH. Whatever the
rules, every group keeps one copy. --reference PATH (repeatable): copies
below PATH are never acted on, and one of them is kept when a group has any.

--action hardlink|reflink|trash|delete is recorded in the plan. For hardlink
and reflink a group is split by file system, each part keeping a copy.

--dirs plans from the groups of identical directories that dupes --dirs
lists (--content: dupes --dirs --content): the keep rules choose the
directory kept (for oldest and newest, a directory's time is the earliest
modification time of its files), and each file of the other directories is
acted on against its counterpart in the kept one, the file at the same
relative path (--content: any file with the same content). With --dirs, one
PATH at most, and --name and --max-size do not apply; --min-size is a
directory's size.`,
		Example: `  indexer dedupe plan ~/Photos --keep oldest -o plan.json
  indexer dedupe plan --action trash --keep under:/srv/archive --min-size 1M -o plan.json
  indexer dedupe plan --action hardlink --reference /mnt/master -o plan.json
  indexer dedupe plan ~/Backups --dirs --action trash --keep oldest -o plan.json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := service.DedupePlanOptions{Action: action, Keep: keep, Dirs: dirs, Content: content,
				Dupes: service.DupesOptions{Machine: a.machine, Name: name}}
			var err error
			if opts.Dupes.MinSize, err = sizeFlag("min-size", minSize); err != nil {
				return err
			}
			if maxSize != "" {
				n, err := sizeFlag("max-size", maxSize)
				if err != nil {
					return err
				}
				opts.Dupes.MaxSize = &n
			}
			if opts.Dupes.Under, err = absPaths(append(under, args...)); err != nil {
				return err
			}
			if opts.Reference, err = absPaths(reference); err != nil {
				return err
			}
			for i, k := range keep {
				// Make the PATH of under: and not-under: absolute.
				for _, prefix := range []string{"under:", "not-under:"} {
					if len(k) > len(prefix) && k[:len(prefix)] == prefix {
						abs, err := absPaths([]string{k[len(prefix):]})
						if err != nil {
							return err
						}
						opts.Keep[i] = prefix + abs[0]
					}
				}
			}
			cat, err := a.openExisting(cmd.Context())
			if err != nil {
				return err
			}
			defer cat.Close()
			if opts.Dupes.Under, err = a.underPaths(cmd.Context(), cat, a.machine, opts.Dupes.Under); err != nil {
				return err
			}
			plan, err := cat.Plan(cmd.Context(), opts)
			var bad *service.BadQueryError
			if errors.As(err, &bad) {
				return usageError("%w", err)
			}
			if err != nil {
				return fmt.Errorf("plan: %w", err)
			}
			data, err := json.MarshalIndent(plan, "", "  ")
			if err != nil {
				return err
			}
			data = append(data, '\n')
			if out == "" || out == "-" {
				if _, err := a.stdout.Write(data); err != nil {
					return err
				}
			} else if err := writeFileAtomic(out, data); err != nil {
				return err
			}
			files, bytes := 0, int64(0)
			for _, g := range plan.Groups {
				for _, cp := range g.Act {
					files += len(cp.Names)
				}
				bytes += int64(len(g.Act)) * g.Size
			}
			fmt.Fprintf(a.stderr, "indexer: plan to %s %d files in %d groups, %s reclaimable\n",
				plan.Action, files, len(plan.Groups), bytesize.Format(bytes))
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&action, "action", service.ActionHardlink, "what apply does to each copy not kept: hardlink, reflink, trash or delete")
	f.StringArrayVar(&keep, "keep", nil, "keep `RULE`, tried in order (repeatable): oldest, newest, shortest-path, longest-path, shallowest, deepest, under:PATH, not-under:PATH")
	f.StringArrayVar(&reference, "reference", nil, "files below this `PATH` are never acted on (repeatable)")
	f.StringVarP(&out, "output", "o", "", "write the plan to this `FILE` (default: standard output)")
	f.StringVar(&minSize, "min-size", "1", "leave out files smaller than this `SIZE`: bytes, or 10K, 1.5MB, 2GiB...")
	f.StringVar(&maxSize, "max-size", "", "leave out files larger than this `SIZE`: bytes, or 10K, 1.5MB, 2GiB...")
	f.StringArrayVar(&under, "under", nil, "only files below this `PATH` (repeatable; PATH arguments do the same)")
	f.StringVar(&name, "name", "", "only files whose name matches this shell `GLOB`, such as '*.jpg'")
	f.BoolVar(&dirs, "dirs", false, "plan from the groups of identical directories (dupes --dirs): keep one directory, act on the files of the others")
	f.BoolVar(&content, "content", false, "with --dirs: directories holding the same files in any layout (dupes --dirs --content)")
	return c
}

// writeFileAtomic writes data to path through a temporary file renamed over
// it, so a plan is never half written.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func readPlan(path string) (*dto.DedupePlan, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	var p dto.DedupePlan
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("plan %s is not a dedupe plan: %w", path, err)
	}
	return &p, nil
}

func newDedupeApplyCmd(a *app) *cobra.Command {
	var (
		dryRun, trust, yes, script bool
		trash                      string
	)
	c := &cobra.Command{
		Use:   "apply PLAN",
		Short: "Act on a dedupe plan, checking each file right before acting on it",
		Long: `apply acts on the files of PLAN (written by 'dedupe plan') on this machine.
Right before acting on a file it checks that the file, and the kept file, are
still regular files with their planned fingerprint (device, inode, size,
mtime, ctime), that the catalog knows every name of the file's inode, and
that its bytes equal the kept file's (--trust-catalog skips this read where
the fingerprints match; never for delete). Anything else is skipped and
reported, never acted on.

  hardlink  every name of the copy becomes a hard link of the kept file: a
            link under a temporary name beside it, renamed over it. Same file
            system only. The file takes the kept file's mode and owner.
  reflink   the copy shares the kept file's extents (FIDEDUPERANGE: the kernel
            compares the bytes itself); it keeps its own inode and metadata.
  trash     the copy moves into the trash (.indexer-trash at its mount point,
            or --trash DIR; on another file system it is copied, synced and
            compared, then removed), with a manifest for undo.
  delete    the copy is deleted; needs --yes.

Each action is printed on standard output; --dry-run prints the same lines
and acts on nothing. --script prints a POSIX shell script doing the same
with cmp checks instead of acting. The catalog is updated as a rescan would
record it. Exit status 3 when a file was skipped.`,
		Example: `  indexer dedupe apply plan.json --dry-run
  indexer dedupe apply plan.json
  indexer dedupe apply plan.json --json
  indexer dedupe apply plan.json --script > dedupe.sh`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			plan, err := readPlan(args[0])
			if err != nil {
				return err
			}
			if trash != "" {
				abs, err := absPaths([]string{trash})
				if err != nil {
					return err
				}
				trash = abs[0]
			}
			if script {
				return service.WriteScript(a.stdout, plan, trash)
			}
			cat, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			defer cat.Close()
			w := bufio.NewWriter(a.stdout)
			defer w.Flush()
			opts := service.ApplyOptions{Machine: a.machine, DryRun: dryRun, TrustCatalog: trust, Yes: yes, Trash: trash}
			if !a.json {
				opts.OnEvent = func(e service.DedupeEvent) { printDedupeEvent(w, e) }
			}
			rep, err := cat.Apply(cmd.Context(), plan, opts)
			switch {
			case errors.Is(err, service.ErrDeleteNeedsYes):
				return usageError("plan %s deletes files: pass --yes to delete them", args[0])
			case errors.Is(err, service.ErrPlanMachine):
				return usageError("plan %s: %w; pass --machine, or make the plan on this machine", args[0], err)
			}
			if a.json {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				if jerr := enc.Encode(rep); jerr != nil && err == nil {
					err = jerr
				}
			} else {
				verb := "applied"
				if dryRun {
					verb = "would apply"
				}
				fmt.Fprintf(a.stderr, "indexer: %s %d, skipped %d, %s reclaimed\n", verb, rep.Applied, len(rep.Skipped),
					bytesize.Format(rep.BytesReclaimed))
				if rep.Manifest != "" && !dryRun {
					fmt.Fprintf(a.stderr, "indexer: undo with: indexer dedupe undo %s\n", displayPath(rep.Manifest))
				}
			}
			if err != nil {
				return fmt.Errorf("apply %s: %w", args[0], err)
			}
			if len(rep.Skipped) > 0 {
				return withCode(ExitPartial, nil)
			}
			return nil
		},
	}
	f := c.Flags()
	f.BoolVar(&dryRun, "dry-run", false, "check everything and print what would be done; act on nothing")
	f.BoolVar(&trust, "trust-catalog", false, "skip the byte comparison where the fingerprints match (not for delete)")
	f.BoolVarP(&yes, "yes", "y", false, "allow the delete action")
	f.BoolVar(&script, "script", false, "print a POSIX shell script doing the plan instead of acting")
	f.StringVar(&trash, "trash", "", "trash `DIR` (default: .indexer-trash at the mount point of each file's file system)")
	return c
}

func printDedupeEvent(w *bufio.Writer, e service.DedupeEvent) {
	switch e.Action {
	case "skip":
		fmt.Fprintf(w, "skip %s: %s\n", displayPath(e.Path), e.Reason)
	case service.ActionTrash:
		fmt.Fprintf(w, "trash %s -> %s\n", displayPath(e.Path), displayPath(e.Trash))
	case "restore":
		fmt.Fprintf(w, "restore %s <- %s\n", displayPath(e.Path), displayPath(e.Trash))
	default:
		fmt.Fprintf(w, "%s %s = %s\n", e.Action, displayPath(e.Path), displayPath(e.Kept))
	}
	if e.Note != "" {
		fmt.Fprintf(w, "  note: %s %s\n", displayPath(e.Path), e.Note)
	}
}

func newDedupeUndoCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "undo MANIFEST",
		Short: "Put the files a dedupe apply moved to the trash back where they were",
		Long: `undo puts every file listed in MANIFEST (printed by 'dedupe apply' for the
trash action) back at its old path, making its directory again if needed. A
file whose old path is taken again is left in the trash and reported: nothing
is overwritten. Running undo twice restores nothing the second time. The
catalog records the restored files as present. Exit status 3 when a file
was skipped.`,
		Example: `  indexer dedupe undo /home/.indexer-trash/20240101-120000-4242/manifest.jsonl`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cat, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			defer cat.Close()
			w := bufio.NewWriter(a.stdout)
			defer w.Flush()
			opts := service.UndoOptions{Machine: a.machine}
			if !a.json {
				opts.OnEvent = func(e service.DedupeEvent) { printDedupeEvent(w, e) }
			}
			rep, err := cat.Undo(cmd.Context(), args[0], opts)
			if a.json {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				if jerr := enc.Encode(rep); jerr != nil && err == nil {
					err = jerr
				}
			} else {
				fmt.Fprintf(a.stderr, "indexer: restored %d, skipped %d\n", rep.Restored, len(rep.Skipped))
			}
			if err != nil {
				return fmt.Errorf("undo %s: %w", args[0], err)
			}
			if len(rep.Skipped) > 0 {
				return withCode(ExitPartial, nil)
			}
			return nil
		},
	}
}
