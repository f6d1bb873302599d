// Command indexer keeps a catalog of files and their content hashes.
package main

import (
	"os"

	"github.com/indexer/indexer/cmd"
)

func main() { os.Exit(cmd.Execute()) }
