-- File times become seconds and nanoseconds.
--
-- Unix nanoseconds in one INTEGER reach only from 1677-09-21 to 2262-04-11,
-- and file systems and archives hold times beyond (ext4 up to 2446, XFS up
-- to 2486, tar any year): an mtime in 2446 wrapped round to 1861. Seconds
-- and nanoseconds hold every time exactly. The columns are renamed, so that
-- a query still written for nanoseconds fails instead of misreading them.
--
-- The validators mtime_ns and ctime_ns stay as they are: the scan compares
-- them only for equality, and two times that wrap to the same int64 are
-- 584 years apart, where a rewrite also moves ctime to now. Keeping them
-- means a rescan after this upgrade reads nothing again, except below.
ALTER TABLE files RENAME COLUMN modified TO modified_sec;
ALTER TABLE files ADD COLUMN modified_nsec INTEGER NOT NULL DEFAULT 0;
ALTER TABLE files RENAME COLUMN created TO created_sec;
ALTER TABLE files ADD COLUMN created_nsec INTEGER NOT NULL DEFAULT 0;

-- Floor division: SQLite's / and % truncate toward zero, and a time before
-- 1970 is negative. A plain file recorded before 1901-12-13 (the earliest
-- time ext4 and XFS hold) most likely had a time after 2262 that wrapped:
-- its ctime_ns becomes 0 so that the next scan reads it again and records
-- its true time (the scan's own "read it again" mark, as for a racily clean
-- file). No archive entry wrapped: one whose own time lay outside that range
-- was given the archive's time instead, and keeps it until `scan --rehash`
-- reads its archive again.
UPDATE files SET
    ctime_ns = CASE WHEN archive_path = '' AND modified_sec < -2147483648000000000 THEN 0 ELSE ctime_ns END,
    modified_sec = modified_sec / 1000000000 - (modified_sec % 1000000000 < 0),
    modified_nsec = (modified_sec % 1000000000 + 1000000000) % 1000000000,
    created_sec = created_sec / 1000000000 - (created_sec % 1000000000 < 0),
    created_nsec = COALESCE((created_sec % 1000000000 + 1000000000) % 1000000000, 0);
