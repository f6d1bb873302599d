package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/indexer/indexer/bench/corpus"
)

var (
	flagDirs     = flag.Bool("dirs", true, "run the duplicate directories case (dupes --dirs against rmlint -D)")
	flagDirsOnly = flag.Bool("dirs-only", false, "run the duplicate directories case alone")
)

// benchDirs times dupes --dirs on a scanned catalog of the small corpus
// with copied directories, against rmlint -D on the same tree, and checks
// the groups against an oracle that compares the trees themselves: every
// group dupes lists must be identical trees, and every set of directories
// that rmlint lists and that are identical trees must be within one group
// of dupes. The tree holds the small corpus, a copy of its first top
// directory, and for ten of its leaf directories three near copies that are
// not the same tree but hold the same files: a file renamed, a file made
// executable, the contents of two files swapped (rmlint issue #742).
func benchDirs(bin, work string) ([]row, error) {
	root := filepath.Join(work, "dirs")
	base := filepath.Join(root, "base")
	st, err := genOnce(base, corpus.Small(*flagSmall))
	if err != nil {
		return nil, err
	}
	if err := copyTree(filepath.Join(base, "d000"), filepath.Join(root, "copy", "d000")); err != nil {
		return nil, err
	}
	for i := range 10 {
		leaf := filepath.Join(base, "d001", fmt.Sprintf("d%03d", i))
		if _, err := os.Stat(leaf); err != nil {
			break // a small corpus has fewer leaves
		}
		names, err := filesIn(leaf)
		if err != nil || len(names) < 2 {
			return nil, fmt.Errorf("near copies of %s: %d files, %v", leaf, len(names), err)
		}
		for _, v := range []string{"renamed", "exec", "swapped"} {
			dst := filepath.Join(root, "near", fmt.Sprintf("%d-%s", i, v))
			if err := copyTree(leaf, dst); err != nil {
				return nil, err
			}
			a, b := filepath.Join(dst, names[0]), filepath.Join(dst, names[1])
			switch v {
			case "renamed":
				err = os.Rename(a, a+".renamed")
			case "exec":
				err = os.Chmod(a, 0o755)
			case "swapped":
				tmp := a + ".tmp"
				if err = os.Rename(a, tmp); err == nil {
					if err = os.Rename(b, a); err == nil {
						err = os.Rename(tmp, b)
					}
				}
			}
			if err != nil {
				return nil, err
			}
		}
	}
	if err := warm(root); err != nil {
		return nil, err
	}
	db := filepath.Join(work, "catalog-dirs", "index.db")
	removeCatalog(db)
	if _, err := timeCmd([]string{bin, "--db", db, "scan", "--quiet", "--json", root}); err != nil {
		return nil, err
	}
	name := fmt.Sprintf("dupes --dirs (%d files)", st.Files)
	ours, err := median(func() []string { return []string{bin, "--db", db, "dupes", "--dirs", "--json"} })
	if err != nil {
		return nil, err
	}
	content, err := median(func() []string { return []string{bin, "--db", db, "dupes", "--dirs", "--content", "--json"} })
	if err != nil {
		return nil, err
	}
	rows := []row{{name: name + " --content", ours: content}}
	if !ensurePeers("rmlint")["rmlint"] {
		return append(rows, row{name: name, ours: ours, note: "rmlint not installed"}), nil
	}
	out := filepath.Join(work, "rmlint.json")
	// Its summary goes to a file of the work directory: given /dev/null,
	// rmlint replaced the device with a regular file (as root), and every
	// later `>/dev/null` on the machine wrote to the disk.
	summary := filepath.Join(work, "rmlint-summary.txt")
	theirs, err := median(func() []string {
		return []string{"rmlint", "-D", "-o", "json:" + out, "-o", "summary:" + summary, root}
	})
	if err != nil {
		return nil, err
	}
	r := compare(name+" on a scanned catalog", ours, "rmlint -D (hashes the tree)", theirs, 0.1)
	r.note, err = checkDirGroups(ours.out, out)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(r.note, "MISMATCH") {
		r.ok = ptr(false)
	}
	return append(rows, r), nil
}

// checkDirGroups checks the groups of dupes --dirs --json (ours) and of
// rmlint's JSON output (file rm) against sameTree, and describes the result.
func checkDirGroups(ours []byte, rm string) (string, error) {
	var o struct {
		Groups []struct {
			Dirs []struct{ Path string } `json:"dirs"`
		} `json:"groups"`
	}
	if err := json.Unmarshal(ours, &o); err != nil {
		return "", fmt.Errorf("read dupes --dirs --json: %w", err)
	}
	b, err := os.ReadFile(rm)
	if err != nil {
		return "", err
	}
	var entries []struct {
		Type, Checksum, Path string
	}
	if err := json.Unmarshal(b, &entries); err != nil {
		return "", fmt.Errorf("read rmlint's output: %w", err)
	}
	theirs := map[string][]string{}
	for _, e := range entries {
		if e.Type == "duplicate_dir" {
			theirs[e.Checksum] = append(theirs[e.Checksum], e.Path)
		}
	}
	// Which group of ours holds each directory, with those below it.
	groupOf := map[string]int{}
	var problems []string
	for i, g := range o.Groups {
		for _, d := range g.Dirs {
			groupOf[d.Path] = i
			if same, err := sameTree(g.Dirs[0].Path, d.Path); err != nil {
				return "", err
			} else if !same {
				problems = append(problems, fmt.Sprintf("dupes groups %s with %s", d.Path, g.Dirs[0].Path))
			}
		}
	}
	within := func(a, b string) bool { // a and b are in one group of ours, or below two of one group
		for {
			ga, oka := groupOf[a]
			gb, okb := groupOf[b]
			if oka && okb {
				return ga == gb
			}
			if filepath.Base(a) != filepath.Base(b) || a == "/" || b == "/" {
				return false
			}
			a, b = filepath.Dir(a), filepath.Dir(b)
		}
	}
	wrong, right := 0, 0
	for _, ps := range theirs {
		sort.Strings(ps)
		// Split rmlint's group into classes of identical trees.
		var classes [][]string
	next:
		for _, p := range ps {
			for i, c := range classes {
				if same, err := sameTree(c[0], p); err != nil {
					return "", err
				} else if same {
					classes[i] = append(c, p)
					continue next
				}
			}
			classes = append(classes, []string{p})
		}
		for _, c := range classes {
			if len(c) < 2 {
				wrong++ // rmlint matched it with a directory that is not the same tree
				continue
			}
			right++
			for _, p := range c[1:] {
				if !within(c[0], p) {
					problems = append(problems, fmt.Sprintf("rmlint rightly groups %s with %s, dupes --dirs does not", p, c[0]))
				}
			}
		}
	}
	note := fmt.Sprintf("%d groups; rmlint %d groups, %d sets right (all within ours), %d directories matched that are not the same tree",
		len(o.Groups), len(theirs), right, wrong)
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Sprintf("MISMATCH: %d problems, first: %s", len(problems), problems[0]), nil
	}
	return note, nil
}

// sameTree reports whether the directories a and b hold the same tree: the
// same names, kinds, executable bits and file contents.
func sameTree(a, b string) (bool, error) {
	list := func(root string) (map[string]string, error) {
		out := map[string]string{}
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			info, err := d.Info()
			if err != nil {
				return err
			}
			switch {
			case d.IsDir():
				out[rel] = "d"
			case info.Mode().IsRegular():
				data, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				out[rel] = fmt.Sprintf("f%v:%s", info.Mode()&0o100 != 0, data)
			default:
				out[rel] = "other"
			}
			return nil
		})
		return out, err
	}
	la, err := list(a)
	if err != nil {
		return false, err
	}
	lb, err := list(b)
	if err != nil {
		return false, err
	}
	if len(la) != len(lb) {
		return false, nil
	}
	for k, v := range la {
		if w, ok := lb[k]; !ok || v != w {
			return false, nil
		}
	}
	return true, nil
}

// filesIn returns the names of the files in dir, sorted.
func filesIn(dir string) ([]string, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range des {
		if d.Type().IsRegular() {
			out = append(out, d.Name())
		}
	}
	return out, nil
}

// copyTree copies the directory src to dst (made anew), as cp -a does.
func copyTree(src, dst string) error {
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	var errb bytes.Buffer
	cmd := exec.Command("cp", "-a", src, dst)
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("copy %s: %v: %s", src, err, errb.String())
	}
	return nil
}
