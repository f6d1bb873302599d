// Command readcatalog is a helper of the e2e tests. It opens an indexer
// catalog read-only (query_only), as another program would, and prints as JSON what the
// tests check: the answer of PRAGMA integrity_check, foreign-key violations,
// present files without their digests, the counts of scans and distinct
// contents, and every file row with its digests. The tests run it as a process built
// without the race detector, under which SQLite's transpiled C code runs
// twenty to thirty times slower.
package main

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// File is one row of the files table. Path is base64 in JSON ([]byte), so
// that names which are not UTF-8 survive.
type File struct {
	Path      []byte `json:"path"`
	Operation string `json:"operation"`
	MD5       string `json:"md5"`
	SHA1      string `json:"sha1"`
	SHA256    string `json:"sha256"`
}

// View is what readcatalog prints.
type View struct {
	// Schema is false when the database has no files table yet (a catalog
	// whose creation was cut short).
	Schema       bool     `json:"schema"`
	Integrity    []string `json:"integrity"`
	FKViolations int      `json:"fk_violations"`
	Orphans      int      `json:"orphans"` // present plain files without their digests
	Scans        int      `json:"scans"`
	Hashes       int      `json:"hashes"` // distinct contents

	Files []File `json:"files"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: readcatalog DB")
		os.Exit(2)
	}
	v, err := read(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "readcatalog:", err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(v); err != nil {
		fmt.Fprintln(os.Stderr, "readcatalog:", err)
		os.Exit(1)
	}
}

func read(path string) (*View, error) {
	v, err := readMode(path, "ro")
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_READONLY {
		// A writer killed mid-transaction left a hot rollback journal, which
		// only a connection that may write can roll back, as any SQLite
		// program opening the file would. query_only still forbids changes.
		v, err = readMode(path, "rw")
	}
	return v, err
}

func readMode(path, mode string) (*View, error) {
	q := url.Values{}
	q.Add("mode", mode)
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "query_only(1)")
	u := url.URL{Scheme: "file", Opaque: (&url.URL{Path: path}).EscapedPath(), RawQuery: q.Encode()}
	d, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, err
	}
	defer d.Close()
	d.SetMaxOpenConns(1)
	// One read transaction: every figure comes from the same snapshot.
	tx, err := d.Begin()
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	v := &View{Files: []File{}}
	rows, err := tx.Query("PRAGMA integrity_check")
	if err != nil {
		return nil, fmt.Errorf("integrity_check: %w", err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		v.Integrity = append(v.Integrity, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("integrity_check: %w", err)
	}
	rows.Close()
	if err := tx.QueryRow("SELECT COUNT(*) FROM pragma_foreign_key_check").Scan(&v.FKViolations); err != nil {
		return nil, fmt.Errorf("foreign_key_check: %w", err)
	}
	var n int
	if err := tx.QueryRow("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('files', 'scans')").Scan(&n); err != nil {
		return nil, err
	}
	if n != 2 {
		return v, nil
	}
	v.Schema = true
	for q, dst := range map[string]*int{
		// A digest missing, or only some of the three stored.
		`SELECT COUNT(*) FROM files WHERE operation != 'DEL' AND archive_path = ''
			AND (sha256 IS NULL OR md5 IS NULL OR sha1 IS NULL)`: &v.Orphans,
		"SELECT COUNT(*) FROM scans":               &v.Scans,
		"SELECT COUNT(DISTINCT sha256) FROM files": &v.Hashes,
	} {
		if err := tx.QueryRow(q).Scan(dst); err != nil {
			return nil, err
		}
	}
	// hex(NULL) is '': an unhashed file reads with empty digests.
	rows, err = tx.Query(`SELECT path, operation, lower(hex(md5)), lower(hex(sha1)), lower(hex(sha256))
		FROM files WHERE archive_path = ''`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var f File
		if err := rows.Scan(&f.Path, &f.Operation, &f.MD5, &f.SHA1, &f.SHA256); err != nil {
			return nil, err
		}
		v.Files = append(v.Files, f)
	}
	return v, rows.Err()
}
