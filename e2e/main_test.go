package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// bin is the indexer binary under test, and readcatalog the helper that
// reads catalogs for the tests; TestMain builds both once.
var bin, readcatalog string

// suiteDir holds what the tests share: the binary and the generated trees.
// It is world-readable so that unprivileged child processes can use both.
var suiteDir string

func TestMain(m *testing.M) {
	// The test binary doubles as the helper programs some scenarios need
	// (a foreign lock holder, a launcher with a file-size limit).
	if name := os.Getenv(helperEnv); name != "" {
		os.Exit(runHelper(name, os.Args[1:]))
	}
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "indexer-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	suiteDir = dir
	bin, readcatalog = filepath.Join(dir, "indexer"), filepath.Join(dir, "readcatalog")
	if err := build(dir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build:", err)
		return 1
	}
	return m.Run()
}

// build compiles the module's main package and the readcatalog helper into
// dir. They run as processes of their own, so they are built without -race
// even when the tests are raced.
func build(dir string) error {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	// -buildvcs=auto stamps the revision --version prints when the module is
	// a git clone, whatever GOFLAGS says (a command-line flag overrides it).
	cmd := exec.Command("go", "build", "-buildvcs=auto", "-o", dir+"/", ".", "./e2e/readcatalog")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w: %s", err, stderr.String())
	}
	return nil
}
