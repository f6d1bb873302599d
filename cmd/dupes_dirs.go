package cmd

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/indexer/indexer/internal/bytesize"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/service"
)

// dirsFlags are dupes' flags for duplicate directories.
type dirsFlags struct{ dirs, content, subset bool }

func (d *dirsFlags) register(c *cobra.Command) {
	f := c.Flags()
	f.BoolVar(&d.dirs, "dirs", false, "list identical directories instead of files")
	f.BoolVar(&d.content, "content", false, "with --dirs: directories holding the same files in any layout and under any names")
	f.BoolVar(&d.subset, "subset", false, "with --dirs: directories whose files are all in another directory")
}

// runDupeDirs is dupes --dirs [--content | --subset].
func runDupeDirs(cmd *cobra.Command, a *app, d dirsFlags, minSize, under, format string, print0 bool) error {
	if !d.dirs {
		return usageError("--content and --subset go with --dirs")
	}
	if d.content && d.subset {
		return usageError("--content and --subset contradict each other; pass one")
	}
	if cmd.Flags().Changed("include-archived") {
		return usageError("--include-archived does not go with --dirs: entries inside archives are not part of a directory's digests")
	}
	machine := explicitMachine(cmd, a)
	min, err := sizeFlag("min-size", minSize)
	if err != nil {
		return err
	}
	if under != "" {
		if under, err = filepath.Abs(under); err != nil {
			return usageError("--under %s: %w", under, err)
		}
	}
	if format, err = dupesFormat(cmd, a.json, print0, format); err != nil {
		return err
	}
	if format == "fdupes" && d.subset {
		return usageError("%s lists groups of copies; --subset has none", fdupesName(print0))
	}
	cat, multi, err := a.openListing(cmd.Context(), machine)
	if err != nil {
		return err
	}
	defer cat.Close()
	if multi && format == "fdupes" {
		return a.exactAcrossMachines(cmd.Context(), cat, fdupesName(print0))
	}
	if under != "" {
		resolved, err := a.underPaths(cmd.Context(), cat, machine, []string{under})
		if err != nil {
			return err
		}
		under = resolved[0]
	}
	w := bufio.NewWriterSize(a.stdout, 64<<10)
	if d.subset {
		subs, err := cat.DirSubsets(cmd.Context(), service.SubsetOptions{Machine: machine, Under: under, MinSize: min})
		if err != nil {
			return fmt.Errorf("list directories held by others: %w", err)
		}
		if err := writeSubsets(w, format, subs, multi); err != nil {
			return err
		}
		return w.Flush()
	}
	groups, totals, err := cat.DupeDirs(cmd.Context(), service.DirDupesOptions{Machine: machine, Under: under, MinSize: min, Content: d.content})
	if err != nil {
		return fmt.Errorf("list duplicate directories: %w", err)
	}
	sep := byte('\n')
	if print0 {
		sep = 0
	}
	if err := writeDirGroups(w, format, sep, groups, totals, multi, d.content); err != nil {
		return err
	}
	return w.Flush()
}

// writeDirGroups prints the groups of duplicate directories in format; sep
// ends each path, and each group, of the fdupes format. That format is exact,
// as dupes' own: bare paths, byte for byte, one name per copy (of linked
// directories, whose files are the same files, only the first), and a group
// left with one name is no group of copies and is not printed.
func writeDirGroups(w *bufio.Writer, format string, sep byte, groups []dto.DirGroup, t dto.DirTotals, multi, content bool) error {
	switch format {
	case "json":
		if groups == nil {
			groups = []dto.DirGroup{}
		}
		b, err := json.Marshal(struct {
			Groups []dto.DirGroup `json:"groups"`
			dto.DirTotals
		}{groups, t})
		if err != nil {
			return err
		}
		w.Write(b)
		return w.WriteByte('\n')
	case "csv":
		c := csv.NewWriter(w)
		c.Write([]string{"digest", "size", "files", "count", "reclaimable", "machine", "path", "linked"})
		for _, g := range groups {
			for _, d := range g.Dirs {
				c.Write([]string{g.Digest, strconv.FormatInt(g.Size, 10), strconv.FormatInt(g.Files, 10), strconv.Itoa(len(g.Dirs)),
					strconv.FormatInt(g.Reclaimable, 10), d.Machine, d.Path, strconv.FormatBool(d.Link > 0)})
			}
		}
		c.Flush()
		return c.Error()
	case "fdupes":
		for _, g := range groups {
			var names []string
			printed := map[int]bool{}
			for _, d := range g.Dirs {
				if d.Link > 0 {
					if printed[d.Link] {
						continue
					}
					printed[d.Link] = true
				}
				names = append(names, exactLocation(d.Path, ""))
			}
			if len(names) < 2 {
				continue
			}
			for _, n := range names {
				w.WriteString(n)
				w.WriteByte(sep)
			}
			w.WriteByte(sep)
		}
		return nil
	}
	kind := "tree"
	if content {
		kind = "content"
	}
	for _, g := range groups {
		fmt.Fprintf(w, "%s of %s (%s) in %s, %s reclaimable, %s %s\n",
			plural(int64(len(g.Dirs)), "directory"), bytesize.Format(g.Size), plural(g.Size, "byte"), plural(g.Files, "file"), bytesize.Format(g.Reclaimable), kind, g.Digest[:16])
		sets := 0
		for _, d := range g.Dirs {
			sets = max(sets, d.Link)
		}
		for _, d := range g.Dirs {
			w.WriteString("  ")
			w.WriteString(location(d.Machine, d.Path, "", multi))
			switch {
			case d.Link > 0 && sets > 1:
				fmt.Fprintf(w, "  [linked %d]", d.Link)
			case d.Link > 0:
				w.WriteString("  [linked]")
			}
			w.WriteByte('\n')
		}
		w.WriteByte('\n')
	}
	if t.Groups == 0 {
		_, err := w.WriteString("no duplicate directories\n")
		return err
	}
	_, err := fmt.Fprintf(w, "%s, %s, %s reclaimable (%s)\n",
		plural(t.Groups, "group"), plural(t.Dirs, "directory"), bytesize.Format(t.Reclaimable), plural(t.Reclaimable, "byte"))
	return err
}

func writeSubsets(w *bufio.Writer, format string, subs []dto.DirSubset, multi bool) error {
	switch format {
	case "json":
		if subs == nil {
			subs = []dto.DirSubset{}
		}
		b, err := json.Marshal(struct {
			Subsets []dto.DirSubset `json:"subsets"`
			Total   int             `json:"subsets_total"`
		}{subs, len(subs)})
		if err != nil {
			return err
		}
		w.Write(b)
		return w.WriteByte('\n')
	case "csv":
		c := csv.NewWriter(w)
		c.Write([]string{"machine", "path", "size", "files", "in_machine", "in_path", "extra"})
		for _, s := range subs {
			c.Write([]string{s.Dir.Machine, s.Dir.Path, strconv.FormatInt(s.Size, 10), strconv.FormatInt(s.Files, 10),
				s.In.Machine, s.In.Path, strconv.FormatInt(s.Extra, 10)})
		}
		c.Flush()
		return c.Error()
	}
	for _, s := range subs {
		more := "more files"
		if s.Extra == 1 {
			more = "more file"
		}
		fmt.Fprintf(w, "%s (%s, %s) is within %s, which has %s %s\n",
			location(s.Dir.Machine, s.Dir.Path, "", multi), plural(s.Files, "file"), bytesize.Format(s.Size),
			location(s.In.Machine, s.In.Path, "", multi), thousands(s.Extra), more)
	}
	if len(subs) == 0 {
		_, err := w.WriteString("no directory is held by another\n")
		return err
	}
	return nil
}
