// Package archive reads the regular entries of zip, tar (plain or compressed
// with gzip, bzip2, xz, zstd, lz4 or lzip), 7z and rar archives as streams, so
// that each can be hashed without being extracted or held in memory. Formats
// are recognised by content, never by name; the decoding itself is left to
// github.com/mholt/archives and the libraries behind it. Walk enforces limits
// on uncompressed bytes, entry count and compression ratio (zip bombs), and
// never writes anything derived from an entry's name.
package archive
