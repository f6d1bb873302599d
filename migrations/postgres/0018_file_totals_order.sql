-- A scan writes two chunks at once on PostgreSQL. Each chunk's statement
-- upserts the file_totals rows of its (machine, kind, extension) groups, in
-- whatever order its aggregate produced them: two chunks holding the same
-- extensions could each lock one row the other wants next, and deadlock
-- (found after the server's deadlock_timeout, then retried). The rows are now
-- locked in key order, as the contents rows already are. Otherwise
-- files_summary_insert is 0017's.

CREATE OR REPLACE FUNCTION files_summary_insert() RETURNS trigger LANGUAGE plpgsql AS $$
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
