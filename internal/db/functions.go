package db

import (
	"database/sql/driver"
	"fmt"
	"strings"
	"sync"

	"modernc.org/sqlite"

	"github.com/indexer/indexer/internal/match"
)

// GlobFunction is the SQL function GlobFunction(pattern, name): 1 when name
// matches the shell pattern exactly as internal/match reads it (case
// sensitive), 0 when not. Queries that must count only matching rows, such
// as the groups of dupes --name, filter with it in the database; SQLite's
// own GLOB differs from match on escapes and [!...].
const GlobFunction = "indexer_glob"

// globs caches compiled patterns: a query passes the same one for every row.
var globs sync.Map // pattern → *match.Matcher

func init() {
	sqlite.MustRegisterDeterministicScalarFunction(GlobFunction, 2, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		pattern, ok1 := text(args[0])
		name, ok2 := text(args[1])
		if !ok1 || !ok2 {
			return nil, nil
		}
		m, ok := globs.Load(pattern)
		if !ok {
			g, err := match.Glob(pattern, false)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", GlobFunction, err)
			}
			m, _ = globs.LoadOrStore(pattern, g)
		}
		if m.(*match.Matcher).Match(name) {
			return int64(1), nil
		}
		return int64(0), nil
	})
}

// text returns a TEXT or BLOB argument as a string, byte for byte.
func text(v driver.Value) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case []byte:
		return string(v), true
	}
	return "", false
}

// ExtFunction is the SQL function ExtFunction(name): the raw bytes after the
// last dot of a file name, as a BLOB, or an empty BLOB when there is none or
// the only dot starts the name (".profile"). The triggers that keep
// file_totals current call it (migrations/sqlite/0011_summary.sql), so every
// connection that writes files needs it; stats folds the case of what it
// returns (see service.Extension). PostgreSQL has its own.
const ExtFunction = "indexer_ext"

func init() {
	sqlite.MustRegisterDeterministicScalarFunction(ExtFunction, 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		name, _ := text(args[0])
		return []byte(RawExtension(name)), nil
	})
}

// RawExtension returns the text after the last dot of name, byte for byte,
// or "" when there is none or the only dot starts the name.
func RawExtension(name string) string {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 {
		return ""
	}
	return name[i+1:]
}
