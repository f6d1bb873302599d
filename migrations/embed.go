// Package migrations holds the catalog's schema as numbered SQL files, one
// folder per engine: sqlite/ and postgres/. Each file NNNN_name.sql is
// applied once, in order, inside one transaction, by internal/db.
//
// Both folders hold the same file names: a new migration is written twice,
// once in each engine's SQL, and a test (TestMigrationsPaired) refuses a file
// with no twin, and one left at the top level.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed sqlite/*.sql postgres/*.sql
var files embed.FS

// SQLite and Postgres hold each engine's migration files, at their roots.
var (
	SQLite   = sub("sqlite")
	Postgres = sub("postgres")
)

// FS is SQLite, under the name it had when SQLite was the only engine.
var FS = SQLite

func sub(dir string) fs.FS {
	f, err := fs.Sub(files, dir)
	if err != nil {
		panic(err) // a fixed name inside the embedded files
	}
	return f
}
