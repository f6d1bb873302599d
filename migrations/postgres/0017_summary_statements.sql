-- The summary (0011) and its totals (0015) were kept by row triggers: for
-- each file inserted, a PL/pgSQL call upserting its file_totals row and its
-- contents row, and for each contents row so changed another call upserting
-- content_totals. A first scan into PostgreSQL took 2.9 times as long as into
-- SQLite (100,000 small files: 16.3-17.4 s against 5.7-5.8 s; 8.6 s with the
-- triggers off). Inserts into files, and every change of contents, are now
-- counted once per statement, from its transition tables: one chunk of 200
-- files, one upsert of a few file_totals rows, one of its contents rows and
-- one of content_totals. Updates and deletes of files keep the row trigger.
-- Measured after: 13.2-14.2 s; the trigger functions' own time fell from
-- 5.3 s to 2.7 s of the scan (pg_stat_user_functions).

-- Inserted files. Named to fire before files_summary_links_insert (statement
-- triggers fire in name order), which counts hard links in the contents rows
-- this one makes. A content's size is the one it was first recorded under
-- (for a content new in this statement, the smallest of its sizes here);
-- sized counts its present files of that size, as the row trigger did. A
-- writer that loses a race to record a content first under another size
-- counts its files of its own size as not sized: the content then reads as
-- mixed, which sends dupes and stats to the rows (slower, never wrong).
CREATE FUNCTION files_summary_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO file_totals (machine, kind, ext, files, bytes)
        SELECT machine, kind, ext, COUNT(*), SUM(size) FROM (SELECT machine, size,
                CASE WHEN operation = 'DEL' THEN 'deleted' WHEN is_archived <> 0 THEN 'entry' ELSE 'file' END AS kind,
                CASE WHEN operation <> 'DEL' AND is_archived = 0 THEN indexer_ext(name) ELSE '\x'::BYTEA END AS ext
            FROM new_rows) t
        GROUP BY machine, kind, ext
        ON CONFLICT (machine, kind, ext) DO UPDATE SET files = file_totals.files + excluded.files,
            bytes = file_totals.bytes + excluded.bytes;
    WITH g AS (SELECT sha256, size, COUNT(*) AS n, SUM((is_archived = 0)::INTEGER) AS f,
                SUM((is_archived <> 0)::INTEGER) AS e
            FROM new_rows WHERE sha256 IS NOT NULL AND operation <> 'DEL' GROUP BY sha256, size),
        b AS (SELECT sha256, COALESCE((SELECT c.size FROM contents c WHERE c.sha256 = g.sha256), MIN(size)) AS base
            FROM g GROUP BY sha256)
    INSERT INTO contents (sha256, size, files, entries, sized, extra)
        SELECT g.sha256, b.base, SUM(g.f), SUM(g.e), COALESCE(SUM(g.n) FILTER (WHERE g.size = b.base), 0), 0
        FROM g JOIN b ON b.sha256 = g.sha256
        GROUP BY g.sha256, b.base
        ORDER BY g.sha256 -- rows locked in one order by every writer: no deadlock between two
        ON CONFLICT (sha256) DO UPDATE SET files = contents.files + excluded.files,
            entries = contents.entries + excluded.entries,
            sized = contents.sized + CASE WHEN contents.size = excluded.size THEN excluded.sized ELSE 0 END;
    RETURN NULL;
END $$;

DROP TRIGGER files_summary_row ON files;
CREATE TRIGGER files_summary_row AFTER DELETE OR UPDATE OF machine, name, size, operation, is_archived, sha256, device, inode
    ON files FOR EACH ROW EXECUTE FUNCTION files_summary_row();
CREATE TRIGGER files_summary_insert AFTER INSERT ON files REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION files_summary_insert();

-- The hard links of inserted files are counted only for contents that hold
-- two present files or more now (files_summary_insert, which fires first,
-- counted this statement's): an inode whose content has one file is that
-- file, and adds no extra name. A first scan's new contents skip the lookup.
CREATE OR REPLACE FUNCTION files_summary_links() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        WITH moved AS (SELECT sha256, machine, device, inode, 1 AS d FROM new_rows WHERE sha256 IS NOT NULL AND operation <> 'DEL' AND is_archived = 0 AND inode <> 0),
            k AS (SELECT sha256, machine, device, inode, SUM(d) AS d FROM moved GROUP BY sha256, machine, device, inode),
            counted AS (SELECT k.sha256, k.d, (SELECT COUNT(*) FROM files f
                    WHERE f.sha256 = k.sha256 AND f.operation <> 'DEL' AND f.is_archived + 0 = 0
                    AND f.machine = k.machine AND f.device = k.device AND f.inode = k.inode) AS after
                FROM k JOIN contents c ON c.sha256 = k.sha256 WHERE c.files >= 2),
            delta AS (SELECT sha256, SUM(GREATEST(after - 1, 0) - GREATEST(after - d - 1, 0)) AS x FROM counted GROUP BY sha256)
        UPDATE contents c SET extra = c.extra + delta.x FROM delta WHERE c.sha256 = delta.sha256 AND delta.x <> 0;
    ELSIF TG_OP = 'DELETE' THEN
        WITH moved AS (SELECT sha256, machine, device, inode, -1 AS d FROM old_rows WHERE sha256 IS NOT NULL AND operation <> 'DEL' AND is_archived = 0 AND inode <> 0),
            k AS (SELECT sha256, machine, device, inode, SUM(d) AS d FROM moved GROUP BY sha256, machine, device, inode),
            counted AS (SELECT k.sha256, k.d, (SELECT COUNT(*) FROM files f
                    WHERE f.sha256 = k.sha256 AND f.operation <> 'DEL' AND f.is_archived + 0 = 0
                    AND f.machine = k.machine AND f.device = k.device AND f.inode = k.inode) AS after FROM k),
            delta AS (SELECT sha256, SUM(GREATEST(after - 1, 0) - GREATEST(after - d - 1, 0)) AS x FROM counted GROUP BY sha256)
        UPDATE contents c SET extra = c.extra + delta.x FROM delta WHERE c.sha256 = delta.sha256 AND delta.x <> 0;
    ELSE
        WITH moved AS (SELECT sha256, machine, device, inode, -1 AS d FROM old_rows WHERE sha256 IS NOT NULL AND operation <> 'DEL' AND is_archived = 0 AND inode <> 0
                UNION ALL SELECT sha256, machine, device, inode, 1 AS d FROM new_rows WHERE sha256 IS NOT NULL AND operation <> 'DEL' AND is_archived = 0 AND inode <> 0),
            k AS (SELECT sha256, machine, device, inode, SUM(d) AS d FROM moved GROUP BY sha256, machine, device, inode),
            counted AS (SELECT k.sha256, k.d, (SELECT COUNT(*) FROM files f
                    WHERE f.sha256 = k.sha256 AND f.operation <> 'DEL' AND f.is_archived + 0 = 0
                    AND f.machine = k.machine AND f.device = k.device AND f.inode = k.inode) AS after FROM k),
            delta AS (SELECT sha256, SUM(GREATEST(after - 1, 0) - GREATEST(after - d - 1, 0)) AS x FROM counted GROUP BY sha256)
        UPDATE contents c SET extra = c.extra + delta.x FROM delta WHERE c.sha256 = delta.sha256 AND delta.x <> 0;
    END IF;
    RETURN NULL;
END $$;

-- content_totals from the contents rows a statement inserted, deleted or
-- updated: the sums of the new rows less those of the old.
CREATE FUNCTION contents_totals_statement() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n BIGINT := 0;
    g BIGINT := 0;
    f BIGINT := 0;
    r BIGINT := 0;
    m BIGINT := 0;
    n1 BIGINT;
    g1 BIGINT;
    f1 BIGINT;
    r1 BIGINT;
    m1 BIGINT;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT COUNT(*), COUNT(*) FILTER (WHERE files - extra >= 2 AND size >= 1),
                COALESCE(SUM(files) FILTER (WHERE files - extra >= 2 AND size >= 1), 0),
                COALESCE(SUM((files - extra - 1) * size) FILTER (WHERE files - extra >= 2 AND size >= 1), 0),
                COUNT(*) FILTER (WHERE sized <> files + entries)
            INTO n1, g1, f1, r1, m1 FROM old_rows;
        n := n - n1; g := g - g1; f := f - f1; r := r - r1; m := m - m1;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        SELECT COUNT(*), COUNT(*) FILTER (WHERE files - extra >= 2 AND size >= 1),
                COALESCE(SUM(files) FILTER (WHERE files - extra >= 2 AND size >= 1), 0),
                COALESCE(SUM((files - extra - 1) * size) FILTER (WHERE files - extra >= 2 AND size >= 1), 0),
                COUNT(*) FILTER (WHERE sized <> files + entries)
            INTO n1, g1, f1, r1, m1 FROM new_rows;
        n := n + n1; g := g + g1; f := f + f1; r := r + r1; m := m + m1;
    END IF;
    IF n = 0 AND g = 0 AND f = 0 AND r = 0 AND m = 0 THEN
        RETURN NULL;
    END IF;
    INSERT INTO content_totals (slot, contents, dupe_groups, dupe_files, reclaimable, mixed)
        VALUES (pg_current_xact_id()::TEXT::BIGINT, n, g, f, r, m)
        ON CONFLICT (slot) DO UPDATE SET contents = content_totals.contents + excluded.contents,
            dupe_groups = content_totals.dupe_groups + excluded.dupe_groups,
            dupe_files = content_totals.dupe_files + excluded.dupe_files,
            reclaimable = content_totals.reclaimable + excluded.reclaimable,
            mixed = content_totals.mixed + excluded.mixed;
    RETURN NULL;
END $$;

DROP TRIGGER contents_totals ON contents;
DROP TRIGGER contents_totals_update ON contents;
CREATE TRIGGER contents_totals_insert AFTER INSERT ON contents REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contents_totals_statement();
CREATE TRIGGER contents_totals_delete AFTER DELETE ON contents REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contents_totals_statement();
CREATE TRIGGER contents_totals_update AFTER UPDATE ON contents REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contents_totals_statement();
DROP FUNCTION contents_totals();
