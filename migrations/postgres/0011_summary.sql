-- As sqlite/0011_summary.sql: file_totals and contents, kept current by
-- triggers on files. Here the counts are kept by row triggers, and extra by
-- statement triggers that read the statement's old and new rows: a row
-- trigger runs after the whole statement, and would not see the other rows
-- a statement moved in or out of a set of names of one inode. Indexes are
-- never set aside on PostgreSQL, so the triggers always run.
CREATE TABLE file_totals (
    machine TEXT   NOT NULL,
    kind    TEXT   NOT NULL CHECK (kind IN ('file', 'entry', 'deleted')),
    ext     BYTEA  NOT NULL,
    files   BIGINT NOT NULL,
    bytes   BIGINT NOT NULL,
    UNIQUE (machine, kind, ext)
);
CREATE TABLE contents (
    sha256  BYTEA  NOT NULL PRIMARY KEY,
    size    BIGINT NOT NULL,
    files   BIGINT NOT NULL,
    entries BIGINT NOT NULL,
    sized   BIGINT NOT NULL,
    extra   BIGINT NOT NULL
);
CREATE INDEX contents_dupes ON contents (sha256, files, extra, size) WHERE files - extra >= 2;
CREATE INDEX contents_mixed ON contents (sha256) WHERE sized <> files + entries;

-- The raw bytes after a name's last dot, as internal/db's indexer_ext.
CREATE FUNCTION indexer_ext(n BYTEA) RETURNS BYTEA LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    i INTEGER := length(n) - 1;
BEGIN
    WHILE i > 0 LOOP
        IF get_byte(n, i) = 46 THEN
            RETURN substring(n FROM i + 2);
        END IF;
        i := i - 1;
    END LOOP;
    RETURN '\x'::BYTEA;
END $$;

CREATE FUNCTION files_summary_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE file_totals SET files = files - 1, bytes = bytes - OLD.size
            WHERE machine = OLD.machine
            AND kind = CASE WHEN OLD.operation = 'DEL' THEN 'deleted' WHEN OLD.is_archived <> 0 THEN 'entry' ELSE 'file' END
            AND ext = CASE WHEN OLD.operation <> 'DEL' AND OLD.is_archived = 0 THEN indexer_ext(OLD.name) ELSE '\x'::BYTEA END;
        DELETE FROM file_totals WHERE machine = OLD.machine AND files = 0;
        IF OLD.sha256 IS NOT NULL AND OLD.operation <> 'DEL' THEN
            UPDATE contents SET files = files - (OLD.is_archived = 0)::INTEGER,
                    entries = entries - (OLD.is_archived <> 0)::INTEGER, sized = sized - (size = OLD.size)::INTEGER
                WHERE sha256 = OLD.sha256;
            DELETE FROM contents WHERE sha256 = OLD.sha256 AND files + entries = 0;
        END IF;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO file_totals (machine, kind, ext, files, bytes)
            VALUES (NEW.machine,
                CASE WHEN NEW.operation = 'DEL' THEN 'deleted' WHEN NEW.is_archived <> 0 THEN 'entry' ELSE 'file' END,
                CASE WHEN NEW.operation <> 'DEL' AND NEW.is_archived = 0 THEN indexer_ext(NEW.name) ELSE '\x'::BYTEA END,
                1, NEW.size)
            ON CONFLICT (machine, kind, ext) DO UPDATE SET files = file_totals.files + 1, bytes = file_totals.bytes + excluded.bytes;
        IF NEW.sha256 IS NOT NULL AND NEW.operation <> 'DEL' THEN
            INSERT INTO contents (sha256, size, files, entries, sized, extra)
                VALUES (NEW.sha256, NEW.size, (NEW.is_archived = 0)::INTEGER, (NEW.is_archived <> 0)::INTEGER, 1, 0)
                ON CONFLICT (sha256) DO UPDATE SET files = contents.files + excluded.files,
                    entries = contents.entries + excluded.entries,
                    sized = contents.sized + (contents.size = excluded.size)::INTEGER;
        END IF;
    END IF;
    RETURN NULL;
END $$;

-- extra: for each set of names of one inode the statement changed, its k - 1
-- after the statement less its k - 1 before.
CREATE FUNCTION files_summary_links() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        WITH moved AS (SELECT sha256, machine, device, inode, 1 AS d FROM new_rows WHERE sha256 IS NOT NULL AND operation <> 'DEL' AND is_archived = 0 AND inode <> 0),
            k AS (SELECT sha256, machine, device, inode, SUM(d) AS d FROM moved GROUP BY sha256, machine, device, inode),
            counted AS (SELECT k.sha256, k.d, (SELECT COUNT(*) FROM files f
                    WHERE f.sha256 = k.sha256 AND f.operation <> 'DEL' AND f.is_archived = 0
                    AND f.machine = k.machine AND f.device = k.device AND f.inode = k.inode) AS after FROM k),
            delta AS (SELECT sha256, SUM(GREATEST(after - 1, 0) - GREATEST(after - d - 1, 0)) AS x FROM counted GROUP BY sha256)
        UPDATE contents c SET extra = c.extra + delta.x FROM delta WHERE c.sha256 = delta.sha256 AND delta.x <> 0;
    ELSIF TG_OP = 'DELETE' THEN
        WITH moved AS (SELECT sha256, machine, device, inode, -1 AS d FROM old_rows WHERE sha256 IS NOT NULL AND operation <> 'DEL' AND is_archived = 0 AND inode <> 0),
            k AS (SELECT sha256, machine, device, inode, SUM(d) AS d FROM moved GROUP BY sha256, machine, device, inode),
            counted AS (SELECT k.sha256, k.d, (SELECT COUNT(*) FROM files f
                    WHERE f.sha256 = k.sha256 AND f.operation <> 'DEL' AND f.is_archived = 0
                    AND f.machine = k.machine AND f.device = k.device AND f.inode = k.inode) AS after FROM k),
            delta AS (SELECT sha256, SUM(GREATEST(after - 1, 0) - GREATEST(after - d - 1, 0)) AS x FROM counted GROUP BY sha256)
        UPDATE contents c SET extra = c.extra + delta.x FROM delta WHERE c.sha256 = delta.sha256 AND delta.x <> 0;
    ELSE
        WITH moved AS (SELECT sha256, machine, device, inode, -1 AS d FROM old_rows WHERE sha256 IS NOT NULL AND operation <> 'DEL' AND is_archived = 0 AND inode <> 0
                UNION ALL SELECT sha256, machine, device, inode, 1 AS d FROM new_rows WHERE sha256 IS NOT NULL AND operation <> 'DEL' AND is_archived = 0 AND inode <> 0),
            k AS (SELECT sha256, machine, device, inode, SUM(d) AS d FROM moved GROUP BY sha256, machine, device, inode),
            counted AS (SELECT k.sha256, k.d, (SELECT COUNT(*) FROM files f
                    WHERE f.sha256 = k.sha256 AND f.operation <> 'DEL' AND f.is_archived = 0
                    AND f.machine = k.machine AND f.device = k.device AND f.inode = k.inode) AS after FROM k),
            delta AS (SELECT sha256, SUM(GREATEST(after - 1, 0) - GREATEST(after - d - 1, 0)) AS x FROM counted GROUP BY sha256)
        UPDATE contents c SET extra = c.extra + delta.x FROM delta WHERE c.sha256 = delta.sha256 AND delta.x <> 0;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER files_summary_row AFTER INSERT OR DELETE OR UPDATE OF machine, name, size, operation, is_archived, sha256, device, inode
    ON files FOR EACH ROW EXECUTE FUNCTION files_summary_row();
CREATE TRIGGER files_summary_links_insert AFTER INSERT ON files REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION files_summary_links();
CREATE TRIGGER files_summary_links_delete AFTER DELETE ON files REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION files_summary_links();
CREATE TRIGGER files_summary_links_update AFTER UPDATE ON files REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION files_summary_links();

-- The totals of the rows already there.
INSERT INTO file_totals (machine, kind, ext, files, bytes)
    SELECT machine, kind, ext, COUNT(*), SUM(size) FROM (SELECT machine, size,
            CASE WHEN operation = 'DEL' THEN 'deleted' WHEN is_archived <> 0 THEN 'entry' ELSE 'file' END AS kind,
            CASE WHEN operation <> 'DEL' AND is_archived = 0 THEN indexer_ext(name) ELSE '\x'::BYTEA END AS ext
        FROM files) t
    GROUP BY machine, kind, ext;
INSERT INTO contents (sha256, size, files, entries, sized, extra)
    SELECT sha256, MIN(size), SUM((is_archived = 0)::INTEGER), SUM((is_archived <> 0)::INTEGER),
        CASE WHEN MIN(size) = MAX(size) THEN COUNT(*) ELSE 0 END, 0
    FROM files WHERE sha256 IS NOT NULL AND operation <> 'DEL' GROUP BY sha256;
UPDATE contents SET extra = x.extra FROM (SELECT s.sha256 AS sha256, SUM(s.k - 1) AS extra
        FROM (SELECT f.sha256 AS sha256, COUNT(*) AS k FROM contents c JOIN files f ON f.sha256 = c.sha256
            WHERE c.files >= 2 AND f.operation <> 'DEL' AND f.is_archived = 0 AND f.inode <> 0
            GROUP BY f.sha256, f.machine, f.device, f.inode HAVING COUNT(*) > 1) s
        GROUP BY s.sha256) x
    WHERE contents.sha256 = x.sha256;
