-- The change log: one row per file a scan added, modified or marked deleted,
-- written in the same transaction as the file's row. A file found unchanged
-- costs nothing here, so the log grows with the changes, not the catalog.
-- old_* describe the file before the scan (NULL for an addition), new_*
-- after it (NULL for a deletion). Digests are raw bytes, as in files.
CREATE TABLE changes (
    id           INTEGER PRIMARY KEY,
    scan_id      INTEGER NOT NULL,            -- the scan that saw the change; see scans
    machine      TEXT    NOT NULL,
    path         TEXT    NOT NULL,
    archive_path TEXT    NOT NULL DEFAULT '',
    op           TEXT    NOT NULL CHECK (op IN ('ADD', 'MOD', 'DEL')),
    old_size     INTEGER,
    old_sha256   BLOB,
    new_size     INTEGER,
    new_sha256   BLOB
);
-- A diff reads the changes of a range of scans; a prune drops them by scan.
CREATE INDEX changes_scan ON changes (scan_id);

-- The log starts here: scans up to this id (those before this migration, or
-- pruned) have no changes recorded. One row.
CREATE TABLE change_log_start (
    after_scan INTEGER NOT NULL
);
INSERT INTO change_log_start (after_scan) SELECT COALESCE(MAX(id), 0) FROM scans;

-- The last verification of each file (indexer verify), by files.id. A side
-- table, so that recording a verification rewrites one small row instead of
-- the file's wide one. expected_sha256 is the catalog's digest when the file
-- was verified: a finding is still current while the file's row carries it
-- (a rescan that rehashes the file, or verify --accept, resolves it).
CREATE TABLE verifications (
    file_id         INTEGER PRIMARY KEY,
    verified        INTEGER NOT NULL,     -- unix ns
    outcome         TEXT    NOT NULL CHECK (outcome IN ('ok', 'corrupt', 'changed', 'missing', 'unreadable')),
    expected_sha256 BLOB,
    actual_md5      BLOB,
    actual_sha1     BLOB,
    actual_sha256   BLOB,
    detail          TEXT    NOT NULL DEFAULT ''
);
-- health and stats ask for current corruption; few rows are ever corrupt.
CREATE INDEX verifications_corrupt ON verifications (file_id) WHERE outcome = 'corrupt';
