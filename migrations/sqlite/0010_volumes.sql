-- Volumes: the file systems scans met, and which of them record their files
-- relative to themselves (removable and external drives, or scan --volume).
-- The files of such a volume are rows of the machine 'vol:' || its UUID
-- (or 'vol:label:' || its label when it has no UUID), with paths of the
-- file system itself ('/' is its top directory), so that the drive mounted
-- elsewhere, or on another computer, is the same rows. See docs/travel.md.
--
-- machine: the rows' machine; mount_point and host: where and on which
-- computer the last scan found it mounted; stable_inodes: 1 when its file
-- system keeps inode numbers across mounts (FAT and exFAT do not: their
-- rows then hold inode 0); last_scan: the last scan of it (scans.id).
CREATE TABLE volumes (
    machine       TEXT    PRIMARY KEY,
    uuid          TEXT    NOT NULL DEFAULT '',
    label         TEXT    NOT NULL DEFAULT '',
    fs_type       TEXT    NOT NULL DEFAULT '',
    mount_point   TEXT    NOT NULL DEFAULT '',
    host          TEXT    NOT NULL DEFAULT '',
    stable_inodes INTEGER NOT NULL DEFAULT 0,
    last_scan     INTEGER
);

-- The file system each root of a scan lived on, whether or not its files
-- were recorded relative to it (volume: the volumes.machine they were
-- recorded under, or '').
CREATE TABLE scan_roots (
    scan_id     INTEGER NOT NULL,
    root        TEXT    NOT NULL,            -- absolute, as walked
    uuid        TEXT    NOT NULL DEFAULT '',
    label       TEXT    NOT NULL DEFAULT '',
    fs_type     TEXT    NOT NULL DEFAULT '',
    mount_point TEXT    NOT NULL DEFAULT '',
    volume      TEXT    NOT NULL DEFAULT '',
    UNIQUE (scan_id, root)
);
