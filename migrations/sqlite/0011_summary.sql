-- Totals kept current by triggers, so that stats and dupes read a few rows
-- instead of aggregating every row of files. Every write to files, whatever
-- its path (scan, forget, merge, import, dedupe, a migration), keeps them in
-- the same transaction. A scan that sets the indexes aside sets these
-- triggers aside too and rebuilds the totals when it builds the indexes
-- (internal/db/indexes.go); while set aside, queries read the rows instead.
--
-- file_totals: rows of files by machine and kind ('file': a present plain
-- file; 'entry': a present archive entry; 'deleted': operation DEL), and for
-- 'file' by extension: the raw bytes after the name's last dot
-- (indexer_ext, registered by internal/db; stats folds case in Go).
CREATE TABLE file_totals (
    machine TEXT    NOT NULL,
    kind    TEXT    NOT NULL CHECK (kind IN ('file', 'entry', 'deleted')),
    ext     BLOB    NOT NULL,
    files   INTEGER NOT NULL,
    bytes   INTEGER NOT NULL,
    UNIQUE (machine, kind, ext)
);

-- contents: one row per sha256 held by a present row (plain or archive
-- entry). files and entries count those rows; size is the size of the row
-- that created this one, and sized counts the rows of that size, never more
-- (fewer after a rebuild of a content found under several sizes): a content
-- with sized <> files + entries may be held under several sizes, and is
-- read from the rows. extra counts the extra names among its present plain
-- files: rows of one machine, device and inode (inode <> 0), each such set
-- of k rows adding k - 1, so that files - extra is its distinct copies.
CREATE TABLE contents (
    sha256  BLOB    NOT NULL PRIMARY KEY,
    size    INTEGER NOT NULL,
    files   INTEGER NOT NULL,
    entries INTEGER NOT NULL,
    sized   INTEGER NOT NULL,
    extra   INTEGER NOT NULL
) WITHOUT ROWID;
-- The contents with two copies or more, from this index alone: stats sums
-- them; dupes reads their files in content order, which finds them in
-- adjacent pages of files_content, and sorts them (walking the groups in
-- listing order instead seeks all over files_content and costs more).
CREATE INDEX contents_dupes ON contents (sha256, files, extra, size) WHERE files - extra >= 2;
-- Contents that may be held under several sizes: hardly ever any.
CREATE INDEX contents_mixed ON contents (sha256) WHERE sized <> files + entries;

-- The triggers. A row's part: in file_totals always; in contents when it
-- is present and hashed.
CREATE TRIGGER files_summary_insert AFTER INSERT ON files BEGIN
    INSERT INTO file_totals (machine, kind, ext, files, bytes)
        VALUES (new.machine,
            CASE WHEN new.operation = 'DEL' THEN 'deleted' WHEN new.is_archived <> 0 THEN 'entry' ELSE 'file' END,
            CASE WHEN new.operation <> 'DEL' AND new.is_archived = 0 THEN indexer_ext(new.name) ELSE X'' END,
            1, new.size)
        ON CONFLICT (machine, kind, ext) DO UPDATE SET files = files + 1, bytes = bytes + excluded.bytes;
    INSERT INTO contents (sha256, size, files, entries, sized, extra)
        SELECT new.sha256, new.size, new.is_archived = 0, new.is_archived <> 0, 1,
            new.is_archived = 0 AND new.inode <> 0 AND EXISTS (SELECT 1 FROM files f
                WHERE f.sha256 = new.sha256 AND f.operation <> 'DEL' AND f.is_archived = 0
                AND f.machine = new.machine AND f.device = new.device AND f.inode = new.inode AND f.id <> new.id)
        WHERE new.sha256 IS NOT NULL AND new.operation <> 'DEL'
        ON CONFLICT (sha256) DO UPDATE SET files = files + excluded.files, entries = entries + excluded.entries,
            sized = sized + (size = excluded.size), extra = extra + excluded.extra;
END;

CREATE TRIGGER files_summary_delete AFTER DELETE ON files BEGIN
    UPDATE file_totals SET files = files - 1, bytes = bytes - old.size
        WHERE machine = old.machine
        AND kind = CASE WHEN old.operation = 'DEL' THEN 'deleted' WHEN old.is_archived <> 0 THEN 'entry' ELSE 'file' END
        AND ext = CASE WHEN old.operation <> 'DEL' AND old.is_archived = 0 THEN indexer_ext(old.name) ELSE X'' END;
    DELETE FROM file_totals WHERE machine = old.machine AND files = 0;
    UPDATE contents SET files = files - (old.is_archived = 0), entries = entries - (old.is_archived <> 0),
            sized = sized - (size = old.size),
            extra = extra - (old.is_archived = 0 AND old.inode <> 0 AND EXISTS (SELECT 1 FROM files f
                WHERE f.sha256 = old.sha256 AND f.operation <> 'DEL' AND f.is_archived = 0
                AND f.machine = old.machine AND f.device = old.device AND f.inode = old.inode AND f.id <> old.id))
        WHERE sha256 = old.sha256 AND old.operation <> 'DEL';
    DELETE FROM contents WHERE sha256 = old.sha256 AND files + entries = 0;
END;

-- An update is the old row's part taken away and the new row's added.
CREATE TRIGGER files_summary_update AFTER UPDATE OF machine, name, size, operation, is_archived, sha256, device, inode ON files BEGIN
    UPDATE file_totals SET files = files - 1, bytes = bytes - old.size
        WHERE machine = old.machine
        AND kind = CASE WHEN old.operation = 'DEL' THEN 'deleted' WHEN old.is_archived <> 0 THEN 'entry' ELSE 'file' END
        AND ext = CASE WHEN old.operation <> 'DEL' AND old.is_archived = 0 THEN indexer_ext(old.name) ELSE X'' END;
    DELETE FROM file_totals WHERE machine = old.machine AND files = 0;
    INSERT INTO file_totals (machine, kind, ext, files, bytes)
        VALUES (new.machine,
            CASE WHEN new.operation = 'DEL' THEN 'deleted' WHEN new.is_archived <> 0 THEN 'entry' ELSE 'file' END,
            CASE WHEN new.operation <> 'DEL' AND new.is_archived = 0 THEN indexer_ext(new.name) ELSE X'' END,
            1, new.size)
        ON CONFLICT (machine, kind, ext) DO UPDATE SET files = files + 1, bytes = bytes + excluded.bytes;
    UPDATE contents SET files = files - (old.is_archived = 0), entries = entries - (old.is_archived <> 0),
            sized = sized - (size = old.size),
            extra = extra - (old.is_archived = 0 AND old.inode <> 0 AND EXISTS (SELECT 1 FROM files f
                WHERE f.sha256 = old.sha256 AND f.operation <> 'DEL' AND f.is_archived = 0
                AND f.machine = old.machine AND f.device = old.device AND f.inode = old.inode AND f.id <> old.id))
        WHERE sha256 = old.sha256 AND old.operation <> 'DEL';
    DELETE FROM contents WHERE sha256 = old.sha256 AND files + entries = 0;
    INSERT INTO contents (sha256, size, files, entries, sized, extra)
        SELECT new.sha256, new.size, new.is_archived = 0, new.is_archived <> 0, 1,
            new.is_archived = 0 AND new.inode <> 0 AND EXISTS (SELECT 1 FROM files f
                WHERE f.sha256 = new.sha256 AND f.operation <> 'DEL' AND f.is_archived = 0
                AND f.machine = new.machine AND f.device = new.device AND f.inode = new.inode AND f.id <> new.id)
        WHERE new.sha256 IS NOT NULL AND new.operation <> 'DEL'
        ON CONFLICT (sha256) DO UPDATE SET files = files + excluded.files, entries = entries + excluded.entries,
            sized = sized + (size = excluded.size), extra = extra + excluded.extra;
END;

-- The totals of the rows already there (the same statements as
-- internal/db's summaryRebuild).
INSERT INTO file_totals (machine, kind, ext, files, bytes)
    SELECT machine, kind, ext, COUNT(*), SUM(size) FROM (SELECT machine, size,
            CASE WHEN operation = 'DEL' THEN 'deleted' WHEN is_archived <> 0 THEN 'entry' ELSE 'file' END AS kind,
            CASE WHEN operation <> 'DEL' AND is_archived = 0 THEN indexer_ext(name) ELSE X'' END AS ext
        FROM files) t
    GROUP BY machine, kind, ext;
INSERT INTO contents (sha256, size, files, entries, sized, extra)
    SELECT sha256, MIN(size), SUM(is_archived = 0), SUM(is_archived <> 0),
        CASE WHEN MIN(size) = MAX(size) THEN COUNT(*) ELSE 0 END, 0
    FROM files WHERE sha256 IS NOT NULL AND operation <> 'DEL' GROUP BY sha256;
UPDATE contents SET extra = x.extra FROM (SELECT s.sha256 AS sha256, SUM(s.k - 1) AS extra
        FROM (SELECT f.sha256 AS sha256, COUNT(*) AS k FROM contents c JOIN files f ON f.sha256 = c.sha256
            WHERE c.files >= 2 AND f.operation <> 'DEL' AND f.is_archived = 0 AND f.inode <> 0
            GROUP BY f.sha256, f.machine, f.device, f.inode HAVING COUNT(*) > 1) s
        GROUP BY s.sha256) x
    WHERE contents.sha256 = x.sha256;
