-- Name searches (find --name, dupes --name) look for a substring of the file
-- name anywhere in it, which no B-tree index can find. Names are bytea, which
-- pg_trgm cannot read, so the index holds their escape text,
-- encode(name, 'escape'): every byte above 0x7f and NUL as \ooo, \ as \\,
-- the rest as it is. That form is lossless, ASCII only, and a substring of
-- the bytes is a substring of it, so a LIKE on it keeps every match (and a
-- few extra rows that indexer's exact match then drops), for any name.
--
-- pg_trgm is a trusted extension (PostgreSQL 13 and later): a role that owns
-- the database may create it. A role that may not, or a server without the
-- contrib modules, gets no index: the migration still succeeds, name
-- searches give the same answers by reading every name, and health says
-- the index is missing; an administrator can add it later (docs/postgres.md).
DO $$
BEGIN
	CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN insufficient_privilege OR undefined_file THEN
	RAISE NOTICE 'indexer: no trigram index on file names: %', SQLERRM;
END $$;

DO $$
DECLARE
	ops text;
BEGIN
	SELECT quote_ident(n.nspname) || '.gin_trgm_ops' INTO ops
		FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
	IF ops IS NOT NULL THEN
		EXECUTE 'CREATE INDEX IF NOT EXISTS files_name_trgm ON files USING gin (encode(name, ''escape'') ' || ops || ')';
	END IF;
END $$;
