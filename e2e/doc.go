// Package e2e proves that the catalog survives what real machines do to it.
// Its tests build the indexer binary once and run it as separate processes:
// killed with SIGKILL mid-scan, racing other scans and queries, locked by a
// foreign program, cut short by a file-size limit or a full disk, pointed at
// read-only or bogus catalogs, and fed hostile trees. Every scenario ends by
// checking PRAGMA integrity_check and comparing the catalog with a clean
// reference of the same tree: same paths, same hashes.
package e2e
