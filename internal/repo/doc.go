// Package repo is the catalog's SQL. Each repository works on a narrow
// executor (sqlx.ExtContext), so the same method runs on a pool or inside the
// unit of work's transaction. Row structs stay here; callers see dto values.
// Queries use ? placeholders passed through Rebind, so they stay portable.
package repo
