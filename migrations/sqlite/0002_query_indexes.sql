-- Duplicates and "where is this content" read only this index: one pass in
-- content order groups the files, and the files of a group are adjacent, with
-- everything dupes prints. It replaces files_hash, of which it is an extension.
CREATE INDEX files_content ON files (hash_id, operation, is_archived, size, machine, path, archive_path, device, inode, nlink);
DROP INDEX files_hash;

-- Hard links: only files that had more than one link when scanned can share
-- an inode with another row, and they are few, so this index stays tiny.
CREATE INDEX files_links ON files (hash_id, machine, device, inode) WHERE nlink > 1;
