-- As sqlite/0015_content_totals.sql: content_totals, the totals stats reads
-- of contents, kept current by triggers on contents. Many machines write at
-- once here, and one row that every write updates would make each writing
-- transaction wait for the one before it to commit (and deadlock with the
-- locks on contents): each transaction adds its changes to a row of its
-- own, keyed by its transaction id, which no other transaction ever
-- writes. The totals are the sum of the rows; internal/repo's
-- FoldContentTotals adds the rows of finished transactions into slot 0,
-- which only folds write, and deletes them.
CREATE TABLE content_totals (
    slot        BIGINT NOT NULL PRIMARY KEY,
    contents    BIGINT NOT NULL,
    dupe_groups BIGINT NOT NULL,
    dupe_files  BIGINT NOT NULL,
    reclaimable BIGINT NOT NULL,
    mixed       BIGINT NOT NULL
);

CREATE FUNCTION contents_totals() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n BIGINT := 0;
    g BIGINT := 0;
    f BIGINT := 0;
    r BIGINT := 0;
    m BIGINT := 0;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        n := -1;
        IF OLD.files - OLD.extra >= 2 AND OLD.size >= 1 THEN
            g := -1;
            f := -OLD.files;
            r := -(OLD.files - OLD.extra - 1) * OLD.size;
        END IF;
        IF OLD.sized <> OLD.files + OLD.entries THEN
            m := -1;
        END IF;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        n := n + 1;
        IF NEW.files - NEW.extra >= 2 AND NEW.size >= 1 THEN
            g := g + 1;
            f := f + NEW.files;
            r := r + (NEW.files - NEW.extra - 1) * NEW.size;
        END IF;
        IF NEW.sized <> NEW.files + NEW.entries THEN
            m := m + 1;
        END IF;
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

CREATE TRIGGER contents_totals AFTER INSERT OR DELETE ON contents
    FOR EACH ROW EXECUTE FUNCTION contents_totals();
-- An update moves the totals only when the old row or the new one is a
-- group, or it makes the content mixed or not.
CREATE TRIGGER contents_totals_update AFTER UPDATE ON contents
    FOR EACH ROW WHEN ((OLD.files - OLD.extra >= 2 AND OLD.size >= 1) OR (NEW.files - NEW.extra >= 2 AND NEW.size >= 1)
        OR (OLD.sized <> OLD.files + OLD.entries) <> (NEW.sized <> NEW.files + NEW.entries))
    EXECUTE FUNCTION contents_totals();

-- The totals of the contents already there.
INSERT INTO content_totals (slot, contents, dupe_groups, dupe_files, reclaimable, mixed)
    SELECT 0, COUNT(*), COUNT(*) FILTER (WHERE files - extra >= 2 AND size >= 1),
        COALESCE(SUM(files) FILTER (WHERE files - extra >= 2 AND size >= 1), 0),
        COALESCE(SUM((files - extra - 1) * size) FILTER (WHERE files - extra >= 2 AND size >= 1), 0),
        COUNT(*) FILTER (WHERE sized <> files + entries)
    FROM contents;
