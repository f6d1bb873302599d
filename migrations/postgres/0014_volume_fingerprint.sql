-- As sqlite/0014_volume_fingerprint.sql: a label-only volume's second
-- identity (file system type, size, top directory's birth time).
ALTER TABLE volumes ADD COLUMN IF NOT EXISTS fingerprint TEXT NOT NULL DEFAULT '';
