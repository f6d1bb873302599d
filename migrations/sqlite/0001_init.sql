-- Distinct contents. One row per sha256; md5 and sha1 ride along so a lookup by
-- any of the three finds the same row.
CREATE TABLE hashes (
    id     INTEGER PRIMARY KEY,
    size   INTEGER NOT NULL,
    md5    TEXT    NOT NULL,
    sha1   TEXT    NOT NULL,
    sha256 TEXT    NOT NULL,
    UNIQUE (sha256)
);
CREATE INDEX hashes_md5 ON hashes (md5);
CREATE INDEX hashes_sha1 ON hashes (sha1);

-- One row per scan run.
CREATE TABLE scans (
    id           INTEGER PRIMARY KEY,
    machine      TEXT    NOT NULL,
    roots        TEXT    NOT NULL,            -- JSON array of absolute paths
    started      INTEGER NOT NULL,            -- unix nanoseconds
    finished     INTEGER,                     -- unix nanoseconds; NULL while running
    status       TEXT    NOT NULL CHECK (status IN ('running', 'complete', 'partial', 'interrupted', 'failed')),
    files_seen   INTEGER NOT NULL DEFAULT 0,
    added        INTEGER NOT NULL DEFAULT 0,
    modified     INTEGER NOT NULL DEFAULT 0,
    deleted      INTEGER NOT NULL DEFAULT 0,
    unchanged    INTEGER NOT NULL DEFAULT 0,
    skipped      INTEGER NOT NULL DEFAULT 0,
    failed       INTEGER NOT NULL DEFAULT 0,
    bytes_hashed INTEGER NOT NULL DEFAULT 0,
    tx_metrics   TEXT                         -- JSON, the unit of work's metrics for this run
);
CREATE INDEX scans_machine_started ON scans (machine, started);

-- One row per file per machine. A plain file has archive_path = ''; an entry of
-- an archive has path = the archive's path and archive_path = its inner path.
-- archive_path is NOT NULL because NULLs never collide in a UNIQUE index.
CREATE TABLE files (
    id           INTEGER PRIMARY KEY,
    machine      TEXT    NOT NULL,
    path         TEXT    NOT NULL,
    archive_path TEXT    NOT NULL DEFAULT '',
    name         TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    created      INTEGER,                     -- birth time, unix ns; NULL where the file system has none
    modified     INTEGER NOT NULL,            -- unix ns
    scanned      INTEGER NOT NULL,            -- unix ns of the last scan that saw the file
    operation    TEXT    NOT NULL CHECK (operation IN ('ADD', 'MOD', 'DEL')),
    is_archived  INTEGER NOT NULL DEFAULT 0,
    hash_id      INTEGER REFERENCES hashes (id),
    scan_id      INTEGER REFERENCES scans (id),
    -- Validators for incremental rescans.
    mtime_ns     INTEGER NOT NULL DEFAULT 0,
    ctime_ns     INTEGER NOT NULL DEFAULT 0,
    inode        INTEGER NOT NULL DEFAULT 0,
    device       INTEGER NOT NULL DEFAULT 0,
    nlink        INTEGER NOT NULL DEFAULT 1,
    UNIQUE (machine, path, archive_path)
);
-- Duplicate grouping and "where is this content".
CREATE INDEX files_hash ON files (hash_id);
-- Name search: a covering index is far smaller than the table, so LIKE scans stay fast.
CREATE INDEX files_name ON files (name);
-- Path-prefix queries are range scans on the unique index (machine, path, ...).
CREATE INDEX files_path ON files (path);
