-- As sqlite/0009_dir_entries.sql: a directory's own files as its digests saw
-- them (NULL until its digests are next computed from its files' rows), and
-- a plain file's executable bit, part of its directory's tree digest (NULL
-- where not recorded). Tree digests computed without the bit are dropped.
ALTER TABLE dirs ADD COLUMN entries BYTEA;
ALTER TABLE files ADD COLUMN exec BIGINT;
UPDATE dirs SET tree = NULL;
