-- Digests move into files, as BLOBs, and the hashes table goes.
--
-- A new file used to cost nine B-tree inserts (files and its five indexes,
-- hashes and its three), four of them at random places (sha256, md5, sha1,
-- name). Each random insert dirties its own page, so a 200-file transaction
-- wrote about a thousand pages to the WAL, and the catalog, not hashing,
-- bounded a first scan. With the digests in files, a new file is one row and
-- its indexes; raw 16/20/32-byte digests halve what the digest indexes hold;
-- and a scan that adds many files can set the secondary indexes aside and
-- build them once at its end (see deferred_indexes).
CREATE TABLE files_new (
    id           INTEGER PRIMARY KEY,
    machine      TEXT    NOT NULL,
    path         TEXT    NOT NULL,
    archive_path TEXT    NOT NULL DEFAULT '',
    name         TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    created      INTEGER,                     -- birth time, unix ns; NULL where the file system has none
    modified     INTEGER NOT NULL,            -- unix ns
    -- The scan that last changed the row (ADD, MOD, DEL or new validators),
    -- and its start, unix ns. A rescan that finds the file unchanged writes
    -- nothing; the scans table tells which completed scan last covered it.
    scanned      INTEGER NOT NULL,
    operation    TEXT    NOT NULL CHECK (operation IN ('ADD', 'MOD', 'DEL')),
    is_archived  INTEGER NOT NULL DEFAULT 0,
    -- The content's digests, raw bytes; all NULL for a file never hashed.
    md5          BLOB,
    sha1         BLOB,
    sha256       BLOB,
    scan_id      INTEGER REFERENCES scans (id),  -- see scanned
    -- Validators for incremental rescans.
    mtime_ns     INTEGER NOT NULL DEFAULT 0,
    ctime_ns     INTEGER NOT NULL DEFAULT 0,
    inode        INTEGER NOT NULL DEFAULT 0,
    device       INTEGER NOT NULL DEFAULT 0,
    nlink        INTEGER NOT NULL DEFAULT 1,
    UNIQUE (machine, path, archive_path)
);
-- A version-3 catalog may hold rows that break its foreign keys (health
-- reports them; version 3 worked on with them) and digests that are not hex
-- of the right length. The copy runs with foreign keys enforced, so it must
-- not fail on them, and it repairs what the next scan can redo:
--   * a scan_id of a scan whose row is gone becomes NULL;
--   * a file whose hash_id has no row, or whose content has any digest that
--     is not hex of 16, 20 or 32 bytes, gets no digests at all, never some of
--     them: a file with NULL digests is hashed again by the next scan, one
--     with some is not. internal/db's countRows counts the contents of a
--     version-3 catalog by this same rule, so a restore of a version-3 backup
--     finds the counts it expects.
INSERT INTO files_new (id, machine, path, archive_path, name, size, created, modified, scanned,
        operation, is_archived, md5, sha1, sha256, scan_id, mtime_ns, ctime_ns, inode, device, nlink)
    SELECT f.id, f.machine, f.path, f.archive_path, f.name, f.size, f.created, f.modified, f.scanned,
        f.operation, f.is_archived,
        CASE WHEN length(unhex(h.md5)) = 16 AND length(unhex(h.sha1)) = 20 AND length(unhex(h.sha256)) = 32
            THEN unhex(h.md5) END,
        CASE WHEN length(unhex(h.md5)) = 16 AND length(unhex(h.sha1)) = 20 AND length(unhex(h.sha256)) = 32
            THEN unhex(h.sha1) END,
        CASE WHEN length(unhex(h.md5)) = 16 AND length(unhex(h.sha1)) = 20 AND length(unhex(h.sha256)) = 32
            THEN unhex(h.sha256) END,
        CASE WHEN EXISTS (SELECT 1 FROM scans s WHERE s.id = f.scan_id) THEN f.scan_id END,
        f.mtime_ns, f.ctime_ns, f.inode, f.device, f.nlink
    FROM files f LEFT JOIN hashes h ON h.id = f.hash_id;
DROP TABLE files;
DROP TABLE hashes;
ALTER TABLE files_new RENAME TO files;

-- Name search: a covering index is far smaller than the table, so LIKE scans stay fast.
CREATE INDEX files_name ON files (name);
-- Path-prefix queries over all machines; with one machine they use the unique index.
CREATE INDEX files_path ON files (path);
-- Duplicates and "where is this content" read only this index: one pass in
-- content order groups the files, and the files of a group are adjacent, with
-- everything dupes prints.
CREATE INDEX files_content ON files (sha256, operation, is_archived, size, machine, path, archive_path, device, inode, nlink);
-- Lookups by the other two digests.
CREATE INDEX files_md5 ON files (md5);
CREATE INDEX files_sha1 ON files (sha1);
-- Hard links: only files that had more than one link when scanned can share
-- an inode with another row, and they are few, so this index stays tiny.
CREATE INDEX files_links ON files (sha256, machine, device, inode) WHERE nlink > 1;

-- Secondary indexes a scan has set aside while it adds many files, with the
-- statement that builds each again. A scan builds them at its end; if it
-- dies first, the next one does. Queries are correct without them, only
-- slower. The UNIQUE index is never set aside.
CREATE TABLE deferred_indexes (
    name TEXT PRIMARY KEY,
    sql  TEXT NOT NULL
);
