package cmd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMalformedPoolVariableIsAUsageError runs every command that opens the
// catalog, each its own way (a scan creates it, stats only reads it, health
// and restore look at it before opening, serve keeps its options for later
// reopens), with a malformed INDEXER_READ_CONNS: each exits with the usage
// code and one line naming the variable, and creates no catalog.
func TestMalformedPoolVariableIsAUsageError(t *testing.T) {
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	if err := os.MkdirAll(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(dir, "backup.db")
	newCatalog(t, backup, 3)
	for _, args := range [][]string{
		{"scan", tree},
		{"stats"},
		{"health"},
		{"serve", "--addr", "127.0.0.1:0"},
		{"restore", "--yes", backup},
	} {
		t.Run(args[0], func(t *testing.T) {
			catalog := filepath.Join(t.TempDir(), "index.db")
			for _, v := range []string{"INDEXER_DB", "INDEXER_MACHINE", "INDEXER_BUSY_TIMEOUT", "INDEXER_BUSY_RETRIES", "INDEXER_CONN_MAX_LIFETIME"} {
				t.Setenv(v, "")
			}
			t.Setenv("INDEXER_READ_CONNS", "0")
			var out, errb bytes.Buffer
			root, _ := NewRoot(&out, &errb)
			code := run(t.Context(), root, append([]string{"--db", catalog}, args...), &errb)
			if code != ExitUsage || !strings.Contains(errb.String(), "INDEXER_READ_CONNS") || strings.Count(errb.String(), "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want %d and one line naming INDEXER_READ_CONNS", code, errb.String(), ExitUsage)
			}
			if _, err := os.Stat(catalog); !os.IsNotExist(err) {
				t.Errorf("the catalog was created (%v)", err)
			}
		})
	}
}
