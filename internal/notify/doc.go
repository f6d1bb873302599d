// Package notify hears the writes other processes commit to a catalog, so
// that a long-lived process (indexer serve) can drop the answers it cached
// from before them. With SQLite it watches PRAGMA data_version on one pinned
// read-only connection and reads the tags of the new rows of the events
// table, which every writer fills in the transaction of its write; when it
// cannot tell what changed it reports the epoch.
package notify
