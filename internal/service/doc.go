// Package service holds the use cases: scan, the queries, backup and restore,
// health. A Catalog ties them to one open catalog; each use case lives in its
// own file and reaches SQL only through the unit of work.
package service
