package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/mholt/archives"

	"github.com/indexer/indexer/internal/bytesize"
	"github.com/indexer/indexer/internal/numfmt"
)

// Format names an archive format, as recognised by content.
type Format string

// The formats Walk reads.
const (
	Zip      Format = "zip"
	Tar      Format = "tar"
	TarGz    Format = "tar.gz"
	TarBz2   Format = "tar.bz2"
	TarXz    Format = "tar.xz"
	TarZst   Format = "tar.zst"
	TarLz4   Format = "tar.lz4"
	TarLz    Format = "tar.lz"
	SevenZip Format = "7z"
	Rar      Format = "rar"
)

// HeadSize is how many leading bytes Sniff wants: a tar header block.
const HeadSize = 512

// Magic numbers of the formats that have one. Tar has none: its header
// checksum is what tells it.
var (
	zipMagics = [][]byte{[]byte("PK\x03\x04"), []byte("PK\x05\x06")}
	magic7z   = []byte("7z\xBC\xAF\x27\x1C")
	rarMagics = [][]byte{[]byte("Rar!\x1a\x07\x00"), []byte("Rar!\x1a\x07\x01\x00")}
)

// compressions are the stream compressors a tar may be wrapped in, with the
// format each combination gives. All have a magic number; zlib and brotli,
// whose detection would be a guess, are deliberately absent.
// Their magic numbers are repeated here so that Sniff, which runs on every
// file a scan hashes, allocates nothing; Identify asks the formats themselves.
var compressions = []struct {
	c      archives.Compression
	format Format
	magic  []byte
}{
	{archives.Gz{}, TarGz, []byte{0x1f, 0x8b}},
	{archives.Bz2{}, TarBz2, []byte("BZh")},
	{archives.Xz{}, TarXz, []byte{0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00}},
	{archives.Zstd{}, TarZst, []byte{0x28, 0xb5, 0x2f, 0xfd}},
	{archives.Lz4{}, TarLz4, []byte{0x04, 0x22, 0x4d, 0x18}},
	{archives.Lzip{}, TarLz, []byte("LZIP")},
}

// Sniff reports whether head, the first HeadSize bytes of a file (or all of
// it, if shorter), may start an archive. It is a cheap pre-check on bytes the
// caller already has: true means "worth Identify", false means "certainly
// not an archive Walk reads".
func Sniff(head []byte) bool {
	if hasPrefix(head, zipMagics...) || bytes.HasPrefix(head, magic7z) || hasPrefix(head, rarMagics...) {
		return true
	}
	if bytes.HasPrefix(head, gzipMagic) {
		return !gzipHoldsNoTar(head)
	}
	for _, c := range compressions {
		if bytes.HasPrefix(head, c.magic) {
			return true
		}
	}
	return looksLikeTar(head)
}

var gzipMagic = []byte{0x1f, 0x8b}

// gzipReaders are reused: a gzip reader's window is 32 KiB, and a tree like
// /usr/share holds tens of thousands of gzip files (manuals, changelogs),
// nearly all of them no tar.
var gzipReaders sync.Pool // of *gzip.Reader

// gzipHoldsNoTar reports whether head, the first HeadSize bytes of a gzip
// file (or all of it, if shorter), shows by itself that the stream holds no
// tar: its first HeadSize uncompressed bytes are no tar header, or the
// stream ends before them. Identify would read the same bytes and say the
// same; deciding here spares opening the file again and setting up a
// decompressor for it. When the head runs out first (a poorly compressed
// start), it answers false and leaves the question to Identify.
func gzipHoldsNoTar(head []byte) bool {
	whole := len(head) < HeadSize // the head is the whole file
	zr, _ := gzipReaders.Get().(*gzip.Reader)
	var err error
	if zr == nil {
		zr, err = gzip.NewReader(bytes.NewReader(head))
	} else {
		err = zr.Reset(bytes.NewReader(head))
	}
	if err != nil {
		return whole // a whole file with a damaged header is no archive
	}
	defer gzipReaders.Put(zr)
	var out [HeadSize]byte
	n, _ := io.ReadFull(zr, out[:])
	switch {
	case n == HeadSize:
		return !looksLikeTar(out[:])
	case whole:
		return true // fewer than HeadSize bytes in all: no tar header
	}
	return false
}

// looksLikeTar reports whether head holds a tar header with a valid checksum.
// A pax or GNU long-name header needs more than the first block to be read
// in full, so running out of input after a valid first block counts as yes.
func looksLikeTar(head []byte) bool {
	if len(head) < HeadSize {
		return false
	}
	// The checksum field holds octal digits, spaces and NULs: a test that
	// turns most files away before a tar reader is set up for them.
	for _, c := range head[148:156] {
		if !(c >= '0' && c <= '7' || c == ' ' || c == 0) {
			return false
		}
	}
	_, err := tar.NewReader(bytes.NewReader(head[:HeadSize])).Next()
	return err == nil || errors.Is(err, io.ErrUnexpectedEOF)
}

func hasPrefix(b []byte, prefixes ...[]byte) bool {
	for _, p := range prefixes {
		if bytes.HasPrefix(b, p) {
			return true
		}
	}
	return false
}

// Identify tells the archive format of r by its content (a name is never
// consulted). ok is false when r is not an archive that Walk reads, a lone
// compressed file such as notes.txt.gz included. r is read from its start and
// left positioned there. The error is an I/O error of r.
func Identify(ctx context.Context, r io.ReadSeeker) (f Format, ok bool, err error) {
	defer func() {
		if _, serr := r.Seek(0, io.SeekStart); serr != nil && err == nil {
			f, ok, err = "", false, serr
		}
	}()
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return "", false, err
	}
	head := make([]byte, HeadSize)
	n, err := io.ReadFull(r, head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return "", false, err
	}
	head = head[:n]
	switch {
	case hasPrefix(head, zipMagics...):
		return Zip, true, nil
	case bytes.HasPrefix(head, magic7z):
		return SevenZip, true, nil
	case hasPrefix(head, rarMagics...):
		return Rar, true, nil
	}
	for _, c := range compressions {
		if m, err := c.c.Match(ctx, "", bytes.NewReader(head)); err != nil || !m.ByStream {
			continue
		}
		if _, err := r.Seek(0, io.SeekStart); err != nil {
			return "", false, err
		}
		dr, err := c.c.OpenReader(r)
		if err != nil {
			return "", false, nil // a damaged compressed stream is no archive we can read
		}
		defer dr.Close()
		if isTar(dr) {
			return c.format, true, nil
		}
		return "", false, nil
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return "", false, err
	}
	if isTar(r) {
		return Tar, true, nil
	}
	return "", false, nil
}

// isTar reports whether r starts with a readable tar header (a pax header
// with its records included).
func isTar(r io.Reader) bool {
	_, err := tar.NewReader(r).Next()
	return err == nil
}

// Limits bound the work one archive may cause. A zero field takes its
// default; a negative one means no limit.
type Limits struct {
	// MaxTotalBytes caps the uncompressed bytes read from one archive,
	// nested archives included.
	MaxTotalBytes int64
	// MaxEntries caps the entries (of every kind) listed in one archive,
	// nested archives included.
	MaxEntries int64
	// MaxRatio caps uncompressed bytes read over the archive's size. It
	// is checked once an archive has yielded more than RatioFloor bytes, so
	// that small, very compressible archives are never stopped by it.
	MaxRatio float64
	// MaxDepth is how many archive levels are opened: 1 opens the archive
	// only, and an archive inside it is an entry like any other; 2 opens
	// those too; and so on.
	MaxDepth int
}

// Defaults.
const (
	DefaultMaxTotalBytes = 16 << 30
	DefaultMaxEntries    = 1_000_000
	DefaultMaxRatio      = 1000
	DefaultMaxDepth      = 1
	// RatioFloor is the output below which MaxRatio is not checked.
	RatioFloor = 1 << 20
)

// DefaultLimits returns the limits a zero Limits stands for.
func DefaultLimits() Limits {
	return Limits{MaxTotalBytes: DefaultMaxTotalBytes, MaxEntries: DefaultMaxEntries, MaxRatio: DefaultMaxRatio, MaxDepth: DefaultMaxDepth}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxTotalBytes == 0 {
		l.MaxTotalBytes = d.MaxTotalBytes
	}
	if l.MaxEntries == 0 {
		l.MaxEntries = d.MaxEntries
	}
	if l.MaxRatio == 0 {
		l.MaxRatio = d.MaxRatio
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	return l
}

// Entry is one regular file inside an archive.
type Entry struct {
	// Name is the entry's path inside the archive, as text, exactly as
	// stored: "../x" and "/etc/passwd" are kept as they are. Zip names
	// without the UTF-8 flag are decoded (see DecodeZipName). An entry of a
	// nested archive is named "INNER.zip::PATH".
	Name     string
	Size     int64     // uncompressed size as the archive declares it
	Modified time.Time // zero when the archive records none
	// Encrypted is set when the entry cannot be read without a password.
	Encrypted bool
	// Err, when set, is why the entry cannot be read (an *Error); fn is then
	// given no reader. It is also how a nested archive that cannot be opened
	// is reported, after its own entry was read.
	Err error
}

// Errors that classify an *Error, for errors.Is.
var (
	// ErrNotArchive: the file is not an archive Walk reads.
	ErrNotArchive = errors.New("not an archive")
	// ErrCorrupt: the archive cannot be read to its end.
	ErrCorrupt = errors.New("corrupt or truncated")
	// ErrEncrypted: an entry, or the whole archive, needs a password.
	ErrEncrypted = errors.New("encrypted")
	// ErrUnsupported: an entry uses a compression method no decoder here
	// has, or the archive is one volume of several.
	ErrUnsupported = errors.New("not supported")
	// ErrLimit: a Limits bound was reached; the walk stopped there.
	ErrLimit = errors.New("archive limit reached")
)

// Error is a problem with an archive, or with one entry in it.
type Error struct {
	Archive string // the archive's name, as given to Walk
	Entry   string // the entry's name; empty for the archive as a whole
	Kind    error  // ErrCorrupt, ErrEncrypted, ErrUnsupported or ErrLimit
	Err     error  // the cause; nil when Kind says it all
}

// Error words the problem as one sentence naming the archive, and the entry
// when there is one.
func (e *Error) Error() string {
	where := "archive " + e.Archive
	if e.Entry != "" {
		where += ": entry " + e.Entry
	}
	if e.Kind == ErrLimit {
		return where + " " + e.Reason()
	}
	return where + " is " + e.Reason()
}

// Reason is the problem without the names, for a report that names the
// archive or entry already: "corrupt or truncated: unexpected EOF",
// "encrypted", "not supported: …", "exceeds the limit …".
func (e *Error) Reason() string {
	var le *LimitError
	switch {
	case errors.As(e.Err, &le):
		return le.Error()
	case e.Err == nil || e.Kind == ErrEncrypted:
		return e.Kind.Error()
	}
	return e.Kind.Error() + ": " + e.Err.Error()
}

// Unwrap makes both the kind and the cause visible to errors.Is and As.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// LimitError says which limit stopped a walk.
type LimitError struct {
	Limit string // "bytes", "entries" or "ratio"
	Max   float64
}

func (e *LimitError) Error() string {
	switch e.Limit {
	case "bytes":
		return fmt.Sprintf("exceeds the limit of %s uncompressed per archive; entries before it are kept", bytesize.Format(int64(e.Max)))
	case "entries":
		return fmt.Sprintf("exceeds the limit of %s per archive; entries before it are kept", numfmt.Plural(int64(e.Max), "entry"))
	}
	return fmt.Sprintf("exceeds the compression-ratio limit of %g:1 (a zip bomb?); entries before it are kept", e.Max)
}
