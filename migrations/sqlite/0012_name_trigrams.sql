-- Nothing: postgres/0012_name_trigrams.sql adds a trigram index on file
-- names, which SQLite has no counterpart of (its name searches read the
-- narrow name index). This file keeps both engines' numbers the same.
SELECT 1;
