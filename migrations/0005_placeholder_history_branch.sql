-- Placeholder on the history branch only: migrations 0005-0007 are written on
-- other branches. Delete this file when they are merged.
SELECT 1;
