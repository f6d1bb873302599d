-- Content digests become a lattice multiset hash (LtHash, 1024 lanes of 32
-- bits; internal/service/dirs.go): the sum modulo 2^256 of schema versions
-- 7 to 12 could be forged by anyone able to plant files. content_sum is now
-- 4096 bytes, and so is the sum at the head of entries. Tree digests do not
-- change. Every content digest, sum and stored entries of the old scheme
-- is dropped: the next scan of each machine computes the digests of its
-- complete directories again from their files' rows (dirs.complete = 1 with
-- no entries is what it looks for), without reading a file. Until then
-- dupes --dirs --content finds none of them; tree digests still match.
UPDATE dirs SET content = NULL, content_sum = NULL, entries = NULL;
