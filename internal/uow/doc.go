// Package uow is the catalog's one transaction boundary. Do begins a write
// transaction, hands out repositories bound to it, commits, and retries the
// whole closure when SQLite reports the catalog busy. Read runs queries on the
// read pool inside a read transaction, for a consistent snapshot.
package uow
