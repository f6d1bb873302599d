-- Who runs a scan: a scan killed with SIGKILL cannot record its end, and the
-- next scan on the same host tells a dead one (its process is gone) from one
-- still running, and marks it interrupted.
ALTER TABLE scans ADD COLUMN host TEXT NOT NULL DEFAULT '';
ALTER TABLE scans ADD COLUMN pid INTEGER NOT NULL DEFAULT 0;
