// Package dbtest opens throwaway catalogs for tests: real SQLite files in
// t.TempDir(), migrated like any other and closed by t.Cleanup. It is imported
// only from _test.go files.
package dbtest
