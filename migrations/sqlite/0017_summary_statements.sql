-- PostgreSQL's twin counts the summary once per statement instead of once
-- per row; SQLite's row triggers cost little and stay.
SELECT 1;
