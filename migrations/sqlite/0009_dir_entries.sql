-- A directory's own files, as its digests saw them, so that a rescan brings
-- its digests up to date from the rows the scan wrote alone, without
-- reading the rows of the files that did not change
-- (internal/service/dirs.go). NULL until the directory's digests are next
-- computed, from its files' rows: the next scan of its machine does so for
-- every directory with digests and no entries (all of them once after this
-- upgrade; a file whose content verify --accept took since).
ALTER TABLE dirs ADD COLUMN entries BLOB;

-- A plain file's executable bit (its owner's, as git records it), part of
-- its directory's tree digest: two trees that differ only in a file's x bit
-- are not the same tree. NULL where it is not recorded: archive entries,
-- and files catalogued before this version, until a scan writes their row
-- again (the file changed, or scan --rehash). A directory holding such a
-- file has no tree digest (its content digest does not depend on the bit),
-- and so none of the tree digests computed before this version stands.
ALTER TABLE files ADD COLUMN exec INTEGER;
UPDATE dirs SET tree = NULL;
