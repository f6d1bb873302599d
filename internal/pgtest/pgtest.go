package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// EnvURL names the variable that points the tests at a running server: the
// URL of a role that may create databases (.ci/run sets it).
const EnvURL = "INDEXER_TEST_PG"

var (
	// keepOpen is the cluster's standard input: the cluster stops when it
	// closes. Held here, it is never collected, and closes only when the
	// process exits.
	keepOpen io.WriteCloser

	once     sync.Once
	adminURL string
	startErr error
)

// URL returns the URL of a new, empty database for tb alone, dropped when tb
// ends. The server is the one EnvURL names or, without it, a throwaway
// cluster started on first use and stopped when the test process exits.
// Without a PostgreSQL the test is skipped, or failed under CI=true, where
// every engine must be tested.
func URL(tb testing.TB) string {
	tb.Helper()
	once.Do(func() { adminURL, startErr = server() })
	if startErr != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("PostgreSQL for tests: %v", startErr)
		}
		tb.Skipf("PostgreSQL for tests: %v", startErr)
	}
	admin, err := sql.Open("pgx", adminURL)
	if err != nil {
		tb.Fatal(err)
	}
	defer admin.Close()
	b := make([]byte, 8)
	rand.Read(b)
	name := "indexer_test_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(context.Background(), "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	tb.Cleanup(func() {
		admin, err := sql.Open("pgx", adminURL)
		if err != nil {
			tb.Error(err)
			return
		}
		defer admin.Close()
		if _, err := admin.ExecContext(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("drop test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(adminURL)
	if err != nil {
		tb.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// server returns the admin URL of the server to test on.
func server() (string, error) {
	if u := os.Getenv(EnvURL); u != "" {
		return u, nil
	}
	bin, err := binDir()
	if err != nil {
		return "", err
	}
	var lastErr error
	for range 3 { // the free port may be taken before the server binds it
		u, err := start(bin)
		if err == nil {
			return u, nil
		}
		lastErr = err
	}
	return "", lastErr
}

// binDir finds the directory of initdb and postgres: on PATH, or where
// Debian's postgresql package puts them.
func binDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i], nil
		}
	}
	return "", errors.New("no initdb on PATH or in /usr/lib/postgresql/*/bin (apt-get install postgresql), and " + EnvURL + " is not set")
}

// script runs initdb and the server as an unprivileged user, then waits for
// its standard input to close, which happens when the test process exits
// however it exits, and stops the server and removes its directory.
const script = `set -e
dir=$1 port=$2 bin=$3
"$bin/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 --locale=C >"$dir/initdb.log" 2>&1
"$bin/postgres" -D "$dir/data" -p "$port" -k "$dir" -c listen_addresses=127.0.0.1 \
	-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 \
	>"$dir/server.log" 2>&1 </dev/null &
pid=$!
echo started
cat >/dev/null || true
kill -INT $pid 2>/dev/null || true
wait $pid || true
rm -rf "$dir"
`

// start starts a throwaway cluster and returns its admin URL.
func start(bin string) (string, error) {
	dir, err := os.MkdirTemp("", "indexer-pg-")
	if err != nil {
		return "", err
	}
	port, err := freePort()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("/bin/sh", "-c", script, "sh", dir, strconv.Itoa(port), bin)
	if os.Geteuid() == 0 {
		// initdb and postgres refuse to run as root.
		uid, gid, err := unprivileged()
		if err != nil {
			return "", err
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			return "", err
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	// Its own process group: a Ctrl-C at the terminal reaches the test
	// process, whose exit then stops the server in order.
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start PostgreSQL: %w", err)
	}
	keepOpen = stdin // for the life of this process; see script
	buf := make([]byte, 16)
	if n, _ := out.Read(buf); !strings.HasPrefix(string(buf[:n]), "started") {
		log, _ := os.ReadFile(filepath.Join(dir, "initdb.log"))
		stdin.Close()
		return "", fmt.Errorf("initdb failed: %s", strings.TrimSpace(string(log)))
	}
	u := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := ping(u)
		if err == nil {
			return u, nil
		}
		if time.Now().After(deadline) || cmd.ProcessState != nil {
			log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			stdin.Close()
			return "", fmt.Errorf("PostgreSQL did not start: %w: %s", err, strings.TrimSpace(string(log)))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func ping(u string) error {
	x, err := sql.Open("pgx", u)
	if err != nil {
		return err
	}
	defer x.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return x.PingContext(ctx)
}

// unprivileged returns the ids of the user the cluster runs as: postgres,
// which Debian's package creates, or else nobody.
func unprivileged() (int, int, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return uid, gid, nil
	}
	return 0, 0, errors.New("no unprivileged user (postgres or nobody) to run PostgreSQL as")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
