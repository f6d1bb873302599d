-- What each committed write touched, for processes that cache answers (indexer
-- serve): one row per write transaction that changed rows, written in that
-- transaction, naming the tags it touched (see internal/dto/tags.go) as a JSON
-- array of strings. A server that sees the catalog change (PRAGMA data_version)
-- reads the rows after the last it read. Writers keep only the newest rows; a
-- reader that finds its next row gone can no longer tell what changed and
-- drops everything it cached. Ids are never reused while rows remain: the
-- newest row is always kept, and a new row takes the largest id plus one.
CREATE TABLE events (
    id   INTEGER PRIMARY KEY,
    tags TEXT    NOT NULL
);
