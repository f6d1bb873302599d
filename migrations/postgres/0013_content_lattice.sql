-- As sqlite/0013_content_lattice.sql: content digests become a lattice
-- multiset hash (LtHash, 1024 lanes of 32 bits); every content digest, sum
-- and stored entries of the old scheme is dropped, and the next scan of
-- each machine computes them again from the rows. Tree digests stay.
UPDATE dirs SET content = NULL, content_sum = NULL, entries = NULL;
