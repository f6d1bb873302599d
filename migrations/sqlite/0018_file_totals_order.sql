-- PostgreSQL's twin makes writers lock file_totals rows in one order, and
-- last; a SQLite catalog has one writer at a time.
SELECT 1;
