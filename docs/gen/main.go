// Command gen writes the command reference, one Markdown page per command,
// from the Cobra command tree into docs/cli:
//
//	go run ./docs/gen            # from the module root
//	go generate ./docs/gen
//
// TestReferenceCurrent fails when the committed pages differ from what it
// writes.
package main

//go:generate go run . -out ../cli

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/indexer/indexer/cmd"
)

func main() {
	out := flag.String("out", filepath.Join("docs", "cli"), "directory to write the pages into")
	flag.Parse()
	if err := generate(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// generate replaces the Markdown pages in dir with the reference of the
// current command tree.
func generate(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, err := filepath.Glob(filepath.Join(dir, "*.md"))
	if err != nil {
		return err
	}
	for _, p := range old {
		if err := os.Remove(p); err != nil {
			return err
		}
	}
	return doc.GenMarkdownTree(referenceRoot(), dir)
}

// referenceRoot is the command tree with the defaults that depend on the
// machine (the home directory, the host name) written as rules, so that the
// pages are the same wherever they are generated.
func referenceRoot() *cobra.Command {
	root, _ := cmd.NewRoot(io.Discard, io.Discard)
	root.DisableAutoGenTag = true // no generation date: the pages change only with the commands
	f := root.PersistentFlags()
	f.Lookup("db").DefValue = "$XDG_DATA_HOME/indexer/index.db, else ~/.local/share/indexer/index.db"
	f.Lookup("machine").DefValue = "the host name"
	return root
}
