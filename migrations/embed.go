// Package migrations holds the catalog's schema as numbered SQL files. Each file
// NNNN_name.sql is applied once, in order, inside one transaction, by internal/db.
package migrations

import "embed"

// FS holds the migration files.
//
//go:embed *.sql
var FS embed.FS
