// Package db opens the SQLite catalog: a one-connection write pool and a read pool
// over one WAL-mode file, the embedded migrations, the inter-process lock, and the
// close-and-reopen that restore needs (Replace), or for a catalog that cannot be
// opened, the same swap under the lock alone (ReplaceFile). Every holder of a *DB
// reaches the pools through WithWrite and WithRead, so a reopen is seen by all of
// them at once.
package db
