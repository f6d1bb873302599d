// Package pgtest gives tests a PostgreSQL database of their own: on the
// server INDEXER_TEST_PG names, or on a throwaway cluster this package starts
// once per test process from Debian's postgresql binaries.
package pgtest
