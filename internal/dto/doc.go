// Package dto holds the plain values that cross layers: files, hashes, scans,
// duplicate groups and health reports. It has no behaviour beyond small helpers
// and no knowledge of SQL.
package dto
