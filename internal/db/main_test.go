package db_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/db"
)

// Tests that need a second process re-execute the test binary with
// helperEnv set; TestMain then runs the helper instead of the tests.
const (
	helperEnv     = "INDEXER_DB_TEST_HELPER" // the helper to run: "open" or "hold"
	helperPathEnv = "INDEXER_DB_TEST_PATH"   // the catalog
	helperGoEnv   = "INDEXER_DB_TEST_GO"     // "open": a file whose appearance starts the open
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		if err := runHelper(mode, os.Getenv(helperPathEnv)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runHelper(mode, path string) error {
	ctx := context.Background()
	switch mode {
	case "open":
		// Spin until the parent says go, so that every helper opens at once.
		for {
			if _, err := os.Stat(os.Getenv(helperGoEnv)); err == nil {
				break
			}
			time.Sleep(time.Millisecond)
		}
		d, err := db.Open(ctx, path, db.DefaultOptions())
		if err != nil {
			return err
		}
		return d.Close()
	case "hold":
		d, err := db.Open(ctx, path, db.DefaultOptions())
		if err != nil {
			return err
		}
		fmt.Println("ready")
		_, _ = io.Copy(io.Discard, os.Stdin) // hold until the parent closes stdin
		return d.Close()
	}
	return fmt.Errorf("unknown helper %q", mode)
}

// helperCmd returns a command running helper mode on path in a child process.
func helperCmd(t *testing.T, mode, path string, env ...string) *exec.Cmd {
	t.Helper()
	c := exec.Command(os.Args[0], "-test.run=^$")
	c.Env = append(os.Environ(), append([]string{helperEnv + "=" + mode, helperPathEnv + "=" + path}, env...)...)
	return c
}

// holdInChild opens the catalog at path in another process and keeps it open
// until the test ends.
func holdInChild(t *testing.T, path string) {
	t.Helper()
	c := helperCmd(t, "hold", path)
	stdin, err := c.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	c.Stderr = &stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		if err := c.Wait(); err != nil {
			t.Errorf("holding process: %v: %s", err, stderr.String())
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if line != "ready\n" {
		t.Fatalf("holding process did not open the catalog: %q, %v: %s", line, err, stderr.String())
	}
}
