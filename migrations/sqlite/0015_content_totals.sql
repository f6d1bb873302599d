-- content_totals: the totals stats reads of contents (0011_summary.sql),
-- kept current by triggers on contents, so that stats sums a few rows
-- instead of counting millions: contents counts the rows of contents (the
-- distinct contents of present rows); dupe_groups, dupe_files and
-- reclaimable are the totals of `indexer dupes` without flags, the
-- contents with two distinct copies or more of at least one byte
-- (files - extra >= 2 AND size >= 1): their count, their files, and their
-- (files - extra - 1) * size; mixed counts the contents that may be held
-- under several sizes (sized <> files + entries), which the summary cannot
-- answer for: while there is one, dupes and stats read the rows. (Asked of
-- contents itself, PostgreSQL's planner expects nearly every row to match
-- and reads them all instead of the empty partial index contents_mixed.)
--
-- The totals are the sum of the table's rows. SQLite has one writer at a
-- time, so its triggers keep one row, slot 0; PostgreSQL's keep one row
-- per writing transaction, so that concurrent scans never wait on one
-- another for it, and a fold (internal/repo's FoldContentTotals) adds the
-- rows of finished transactions into slot 0 at the end of each scan.
--
-- A scan that sets the summary aside sets these triggers aside too, and
-- its rebuild computes the row again (internal/db/summary.go).
CREATE TABLE content_totals (
    slot        INTEGER NOT NULL PRIMARY KEY,
    contents    INTEGER NOT NULL,
    dupe_groups INTEGER NOT NULL,
    dupe_files  INTEGER NOT NULL,
    reclaimable INTEGER NOT NULL,
    mixed       INTEGER NOT NULL
);

CREATE TRIGGER contents_totals_insert AFTER INSERT ON contents BEGIN
    INSERT INTO content_totals (slot, contents, dupe_groups, dupe_files, reclaimable, mixed)
        SELECT 0, 1, g, g * new.files, g * (new.files - new.extra - 1) * new.size, new.sized <> new.files + new.entries
        FROM (SELECT new.files - new.extra >= 2 AND new.size >= 1 AS g)
        WHERE true
        ON CONFLICT (slot) DO UPDATE SET contents = contents + excluded.contents,
            dupe_groups = dupe_groups + excluded.dupe_groups, dupe_files = dupe_files + excluded.dupe_files,
            reclaimable = reclaimable + excluded.reclaimable, mixed = mixed + excluded.mixed;
END;

CREATE TRIGGER contents_totals_delete AFTER DELETE ON contents BEGIN
    INSERT INTO content_totals (slot, contents, dupe_groups, dupe_files, reclaimable, mixed)
        SELECT 0, -1, -g, -g * old.files, -g * (old.files - old.extra - 1) * old.size, -(old.sized <> old.files + old.entries)
        FROM (SELECT old.files - old.extra >= 2 AND old.size >= 1 AS g)
        WHERE true
        ON CONFLICT (slot) DO UPDATE SET contents = contents + excluded.contents,
            dupe_groups = dupe_groups + excluded.dupe_groups, dupe_files = dupe_files + excluded.dupe_files,
            reclaimable = reclaimable + excluded.reclaimable, mixed = mixed + excluded.mixed;
END;

-- An update moves the totals only when the old row or the new one is a
-- group, or it makes the content mixed or not.
CREATE TRIGGER contents_totals_update AFTER UPDATE ON contents
    WHEN (old.files - old.extra >= 2 AND old.size >= 1) OR (new.files - new.extra >= 2 AND new.size >= 1)
        OR (old.sized <> old.files + old.entries) <> (new.sized <> new.files + new.entries)
BEGIN
    INSERT INTO content_totals (slot, contents, dupe_groups, dupe_files, reclaimable, mixed)
        SELECT 0, 0, g1 - g0, g1 * new.files - g0 * old.files,
            g1 * (new.files - new.extra - 1) * new.size - g0 * (old.files - old.extra - 1) * old.size,
            (new.sized <> new.files + new.entries) - (old.sized <> old.files + old.entries)
        FROM (SELECT old.files - old.extra >= 2 AND old.size >= 1 AS g0, new.files - new.extra >= 2 AND new.size >= 1 AS g1)
        WHERE true
        ON CONFLICT (slot) DO UPDATE SET contents = contents + excluded.contents,
            dupe_groups = dupe_groups + excluded.dupe_groups, dupe_files = dupe_files + excluded.dupe_files,
            reclaimable = reclaimable + excluded.reclaimable, mixed = mixed + excluded.mixed;
END;

-- The totals of the contents already there (the same statement as
-- internal/db's summaryRebuild).
INSERT INTO content_totals (slot, contents, dupe_groups, dupe_files, reclaimable, mixed)
    SELECT 0, COUNT(*), COALESCE(SUM(files - extra >= 2 AND size >= 1), 0),
        COALESCE(SUM(CASE WHEN files - extra >= 2 AND size >= 1 THEN files ELSE 0 END), 0),
        COALESCE(SUM(CASE WHEN files - extra >= 2 AND size >= 1 THEN (files - extra - 1) * size ELSE 0 END), 0),
        COALESCE(SUM(sized <> files + entries), 0)
    FROM contents;
