package e2e

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"testing"
)

// helperEnv names the helper program a re-executed test binary runs.
const helperEnv = "INDEXER_E2E_HELPER"

// runHelper runs the helper program name and returns its exit code.
func runHelper(name string, args []string) int {
	var err error
	switch name {
	case "hold-lock":
		err = holdLock(args)
	case "fsize":
		err = execWithFileSizeLimit(args)
	default:
		err = fmt.Errorf("unknown helper %q", name)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	return 0
}

// holdLock plays another program that opens the catalog with SQLite and
// takes an exclusive lock, as `sqlite3 index.db 'BEGIN EXCLUSIVE; ...'` would:
// args are the database path and a mode, "transaction" (BEGIN EXCLUSIVE: in
// WAL mode, readers still read) or "locking-mode" (PRAGMA locking_mode =
// EXCLUSIVE: nobody else can even read). It prints "locked" once
// it holds the lock and keeps it until its stdin closes.
func holdLock(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("hold-lock DB MODE")
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(60000)")
	u := url.URL{Scheme: "file", Opaque: (&url.URL{Path: args[0]}).EscapedPath(), RawQuery: q.Encode()}
	d, err := sql.Open("sqlite", u.String())
	if err != nil {
		return err
	}
	defer d.Close()
	ctx := context.Background()
	conn, err := d.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	switch args[1] {
	case "transaction":
		if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
			return fmt.Errorf("begin exclusive: %w", err)
		}
	case "locking-mode":
		// In exclusive locking mode the first read of a WAL database takes
		// the file's exclusive lock, and keeps it until the connection closes.
		var n int
		if _, err := conn.ExecContext(ctx, "PRAGMA locking_mode = EXCLUSIVE"); err != nil {
			return err
		}
		if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
			return fmt.Errorf("begin exclusive: %w", err)
		}
		if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM sqlite_master").Scan(&n); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown mode %q", args[1])
	}
	fmt.Println("locked")
	_, _ = io.Copy(io.Discard, os.Stdin)
	_, err = conn.ExecContext(ctx, "ROLLBACK")
	return err
}

// execWithFileSizeLimit sets RLIMIT_FSIZE to args[0] bytes and replaces
// itself with the command args[1:]. SIGXFSZ is ignored, and stays ignored
// across exec, so a write past the limit fails with EFBIG instead of killing
// the process.
func execWithFileSizeLimit(args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("fsize BYTES COMMAND...")
	}
	n, err := strconv.ParseUint(args[0], 10, 64)
	if err != nil {
		return err
	}
	signal.Ignore(syscall.SIGXFSZ)
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: n, Max: n}); err != nil {
		return fmt.Errorf("setrlimit: %w", err)
	}
	return syscall.Exec(args[1], args[1:], os.Environ())
}

// helperCommand returns the test binary re-executed as helper name.
func helperCommand(t testing.TB, name string, args ...string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), helperEnv+"="+name)
	return cmd
}

// lockHolder is a running hold-lock helper.
type lockHolder struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan error
}

// holdCatalogLock starts a foreign program holding an exclusive SQLite lock
// on the catalog file at path and returns once it holds it.
func holdCatalogLock(t testing.TB, path, mode string) *lockHolder {
	t.Helper()
	cmd := helperCommand(t, "hold-lock", path, mode)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &lockHolder{cmd: cmd, stdin: stdin, done: make(chan error, 1)}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		stdin.Close()
		t.Fatalf("lock holder did not take the lock: %q %v (exit: %v)", line, err, cmd.Wait())
	}
	go func() { h.done <- cmd.Wait() }()
	t.Cleanup(func() { h.release(t) })
	return h
}

// release lets the lock go and waits for the holder to exit. It is safe to
// call twice.
func (h *lockHolder) release(t testing.TB) {
	t.Helper()
	if h.stdin == nil {
		return
	}
	h.stdin.Close()
	h.stdin = nil
	if err := <-h.done; err != nil {
		t.Errorf("lock holder: %v", err)
	}
}
