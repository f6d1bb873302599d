-- A second identity for a volume known by its label alone (no UUID): its
-- file system's type, size and top directory's birth time, as
-- volume.Fingerprint writes them. A scan of a drive with the label but
-- another fingerprint is refused: it is another drive, and recording it
-- in the volume's place would mark the first drive's files DEL. '' where
-- unknown (recorded before this column). See docs/travel.md.
ALTER TABLE volumes ADD COLUMN fingerprint TEXT NOT NULL DEFAULT '';
