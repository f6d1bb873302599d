-- Directories, for duplicate folders (dupes --dirs). A scan records every
-- directory it lists, and at its end brings up to date the digests of the
-- directories whose subtree changed (internal/service/dirs.go).
--
-- complete: the last scan that listed the directory held each of its entries
-- in full (no entry failed or was skipped, and the scan was not
-- interrupted). A directory has digests only when it and every directory
-- below it are complete and every file in it has a sha256.
-- tree: BLAKE3 over its sorted entries (name, kind, digest); content: BLAKE3
-- over the number of files, their bytes and content_sum, the sum modulo
-- 2^256 of one BLAKE3 value per file content of its subtree (a multiset
-- hash: multiplicity counts, and a parent's sum is its children's sums
-- added, so no update reads a subtree twice).
CREATE TABLE dirs (
    id          INTEGER PRIMARY KEY,
    machine     TEXT    NOT NULL,
    path        TEXT    NOT NULL,
    parent      TEXT    NOT NULL,          -- the directory above; '' for '/'
    complete    INTEGER NOT NULL,
    scan_id     INTEGER,                   -- the scan that last recorded it (new, or completeness changed)
    size        INTEGER NOT NULL DEFAULT 0, -- bytes of the files below it
    files       INTEGER NOT NULL DEFAULT 0, -- files below it
    tree        BLOB,
    content     BLOB,
    content_sum BLOB,
    UNIQUE (machine, path)
);
CREATE INDEX dirs_parent ON dirs (machine, parent);
CREATE INDEX dirs_tree ON dirs (tree) WHERE tree IS NOT NULL;
CREATE INDEX dirs_content ON dirs (content) WHERE content IS NOT NULL;

-- The rows a scan changed, and a plain file's directory (its path without
-- '/' and its name; '' for a file in '/'): a directory's files are read
-- without reading its subtree.
CREATE INDEX files_scan ON files (scan_id);
CREATE INDEX files_dir ON files (machine, substr(path, 1, length(path) - length(name) - 1)) WHERE is_archived = 0;

-- Scans whose changes the directory digests include. Scans before this
-- version have no directories to bring up to date.
ALTER TABLE scans ADD COLUMN dirs_done INTEGER NOT NULL DEFAULT 0;
UPDATE scans SET dirs_done = 1;
