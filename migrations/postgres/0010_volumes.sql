-- As sqlite/0010_volumes.sql: the file systems scans met, and the volumes
-- whose files are recorded relative to themselves (see docs/travel.md).
CREATE TABLE volumes (
    machine       TEXT    PRIMARY KEY,
    uuid          TEXT    NOT NULL DEFAULT '',
    label         TEXT    NOT NULL DEFAULT '',
    fs_type       TEXT    NOT NULL DEFAULT '',
    mount_point   BYTEA   NOT NULL DEFAULT '',
    host          TEXT    NOT NULL DEFAULT '',
    stable_inodes BIGINT  NOT NULL DEFAULT 0,
    last_scan     BIGINT
);

CREATE TABLE scan_roots (
    scan_id     BIGINT  NOT NULL,
    root        BYTEA   NOT NULL,
    uuid        TEXT    NOT NULL DEFAULT '',
    label       TEXT    NOT NULL DEFAULT '',
    fs_type     TEXT    NOT NULL DEFAULT '',
    mount_point BYTEA   NOT NULL DEFAULT '',
    volume      TEXT    NOT NULL DEFAULT '',
    UNIQUE (scan_id, root)
);
