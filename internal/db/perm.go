package db

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// A catalog lists the names of everything it has seen, so what indexer
// creates for it is private to its owner: FileMode for the catalog, its lock
// file and its backups, DirMode for the directories made for them. SQLite
// gives the -wal and -shm files the catalog's own mode. An existing catalog
// keeps the mode it has: whoever shared it meant to.
const (
	FileMode fs.FileMode = 0o600
	DirMode  fs.FileMode = 0o700
)

// sideFileMode is the mode for a new file beside the catalog at path (its
// lock file): the catalog's, as SQLite does for -wal and -shm, so that
// whoever may open the catalog may also lock it; FileMode when there is no
// catalog yet.
func sideFileMode(path string) fs.FileMode {
	if fi, err := os.Stat(path); err == nil {
		return fi.Mode().Perm()
	}
	return FileMode
}

// createPrivate creates the empty catalog file at path with FileMode, before
// SQLite would create it with 0644. SQLite takes an empty file for an empty
// database. A file that appeared meanwhile (another process opening the same
// new catalog) is left as it is.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, FileMode)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create catalog %s: %w", path, err)
	}
	return f.Close()
}
