// Package sumfile writes and reads the checksum files other tools use: the
// lines of GNU coreutils' md5sum, sha1sum and sha256sum, with their escapes
// for names holding a backslash or a line break, and hashdeep's file format.
package sumfile
