-- A directory's own files, as its digests saw them, so that a rescan brings
-- its digests up to date from the rows the scan wrote alone, without
-- reading the rows of the files that did not change
-- (internal/service/dirs.go). NULL until the directory's digests are next
-- computed: that computation reads its files' rows once.
ALTER TABLE dirs ADD COLUMN entries BLOB;
