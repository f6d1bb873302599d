-- Nothing: PostgreSQL catalogs begin at version 7, and 0001_init.sql
-- creates its schema. This file keeps both engines' numbers the same.
SELECT 1;
