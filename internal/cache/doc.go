// Package cache is the query cache of a long-lived process: encoded answers
// kept by key for a TTL with jitter, served stale while one background load
// refreshes them, loaded once however many ask at the same time, and
// invalidated by bumping the generations of the tags they carry. It knows
// nothing of SQL or HTTP: callers hand it keys, tags and a load function.
package cache
