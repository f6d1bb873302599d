package dbtest

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/indexer/indexer/internal/pgtest"
)

// postgresPass is set while Main runs the tests a second time, on
// PostgreSQL.
var postgresPass bool

// Main runs a package's tests, from its TestMain, once per engine: all of
// them on SQLite, then those named in onPostgres (exact top-level names;
// -run still narrows them), and the benchmarks -bench names, again with
// every catalog that MustOpen and Location make on a database of its own on
// PostgreSQL (see pgtest, which
// skips them where there is no PostgreSQL, or fails them under CI=true). It
// returns the exit code for os.Exit.
//
// A test not named in onPostgres is one that checks a file's behaviour
// (locks, WAL, permissions) or one not yet ported; the package's TestMain
// says which.
func Main(m *testing.M, onPostgres ...string) int {
	code := m.Run()
	run := flag.Lookup("test.run")
	var names []string
	for _, n := range onPostgres {
		if matches(run.Value.String(), n) {
			names = append(names, regexp.QuoteMeta(n))
		}
	}
	bench := flag.Lookup("test.bench").Value.String()
	if len(names) == 0 && bench == "" {
		return code
	}
	pattern := "^$" // benchmarks alone
	if len(names) > 0 {
		pattern = "^(" + strings.Join(names, "|") + ")$"
	}
	fmt.Fprintf(os.Stderr, "dbtest: %d tests (and the benchmarks -bench names) again, on PostgreSQL\n", len(names))
	if err := run.Value.Set(pattern); err != nil {
		panic(err)
	}
	postgresPass = true
	return max(code, m.Run())
}

// matches reports whether the -run pattern selects the top-level test name.
func matches(pattern, name string) bool {
	if pattern == "" {
		return true
	}
	top, _, _ := strings.Cut(pattern, "/")
	re, err := regexp.Compile(top)
	return err == nil && re.MatchString(name)
}

// OnPostgres reports whether the test runs in Main's PostgreSQL pass.
func OnPostgres() bool { return postgresPass }

// Location returns where a test's new catalog goes: path, a file, on
// SQLite; in Main's PostgreSQL pass, the URL of a new database of tb's own.
func Location(tb testing.TB, path string) string {
	tb.Helper()
	if !postgresPass {
		return path
	}
	u := pgtest.URL(tb)
	tb.Logf("catalog on PostgreSQL: %s", u)
	return u
}
