-- Placeholder for the migration another branch adds as 0006: the loader
-- needs versions without gaps. Drop this file when that branch is merged.
SELECT 1;
