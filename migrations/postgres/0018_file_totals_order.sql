-- A scan writes two chunks at once on PostgreSQL. Each chunk's statement
-- upserts the file_totals rows of its (machine, kind, extension) groups,
-- which the other chunk's statement upserts too: the second waits for the
-- first's commit from that upsert on. Two changes:
--
-- The rows are locked in key order, as the contents rows already are: in
-- whatever order the aggregate produced them, two chunks holding the same
-- extensions could each lock one row the other wants next, and deadlock
-- (found after the server's deadlock_timeout, then retried).
--
-- The upsert moves to a statement trigger of its own, named to fire after
-- files_summary_insert (contents) and files_summary_links_insert (statement
-- triggers fire in name order): a chunk holds the rows from there to its
-- commit, and the contents and hard-link work of the two chunks overlaps
-- instead of waiting. 100,000 small files, in six pairs of runs: 0.12 to
-- 0.74 s faster, 0.5 s on average (of 8 to 11 s).

CREATE OR REPLACE FUNCTION files_summary_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
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

CREATE FUNCTION files_summary_totals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO file_totals (machine, kind, ext, files, bytes)
        SELECT machine, kind, ext, COUNT(*), SUM(size) FROM (SELECT machine, size,
                CASE WHEN operation = 'DEL' THEN 'deleted' WHEN is_archived <> 0 THEN 'entry' ELSE 'file' END AS kind,
                CASE WHEN operation <> 'DEL' AND is_archived = 0 THEN indexer_ext(name) ELSE '\x'::BYTEA END AS ext
            FROM new_rows) t
        GROUP BY machine, kind, ext
        ORDER BY machine, kind, ext -- rows locked in one order by every writer: no deadlock between two
        ON CONFLICT (machine, kind, ext) DO UPDATE SET files = file_totals.files + excluded.files,
            bytes = file_totals.bytes + excluded.bytes;
    RETURN NULL;
END $$;
CREATE TRIGGER files_summary_totals AFTER INSERT ON files REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION files_summary_totals();
