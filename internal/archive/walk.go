package archive

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/bodgit/sevenzip"
	"github.com/klauspost/compress/zip"
	"github.com/mholt/archives"
	"github.com/nwaples/rardecode/v2"
)

// Source is an archive to read: an *os.File is one. Zip and 7z need random
// access; the other formats are read front to back.
type Source interface {
	io.Reader
	io.ReaderAt
	io.Seeker
}

// Walk calls fn for each regular entry of the archive in src, in archive
// order, with a reader of its uncompressed content. The content is streamed:
// fn must consume r before it returns, and no entry is ever held in memory
// or written anywhere by its name. Directories, links and devices are not
// entries. name is how errors refer to the archive.
//
// An entry that cannot be read (encrypted, unsupported method) is passed with
// e.Err set and a nil reader, and the walk goes on. Reads from r fail with an
// *Error: ErrEncrypted (fn may return nil to go on), ErrLimit or ErrCorrupt
// (fn should return it; the walk then stops).
//
// With lim.MaxDepth above 1, an entry that is itself an archive is first
// given to fn like any other, then spooled to an unlinked temporary file and
// walked in turn; its entries are named "INNER::PATH". A nested archive that
// cannot be read is reported to fn as its entry with e.Err set, and the walk
// goes on.
//
// Walk returns ErrNotArchive when src is not an archive it reads; an *Error
// of kind ErrCorrupt, ErrEncrypted or ErrLimit when the archive could not be
// read to its end (entries given to fn before that stay given); ctx's error
// when ctx is done; or fn's error.
func Walk(ctx context.Context, name string, src Source, lim Limits, fn func(e Entry, r io.Reader) error) error {
	w := &walker{ctx: ctx, name: name, lim: lim.withDefaults(), fn: fn}
	format, ok, err := Identify(ctx, src)
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	if !ok {
		return ErrNotArchive
	}
	size, err := sizeOf(src)
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	err = w.level(src, format, size, "", 1)
	var fe fnError
	var ae *Error
	switch {
	case errors.As(err, &fe):
		return fe.err
	case errors.As(err, &ae):
		ae.Archive = name
		return ae
	}
	return err
}

// walker is one Walk: the budget is shared by every nesting level.
type walker struct {
	ctx     context.Context
	name    string
	lim     Limits
	fn      func(Entry, io.Reader) error
	read    int64 // uncompressed bytes read, all levels
	entries int64 // entries listed, all levels
}

// levelState is one archive level: its own size, for the ratio.
type levelState struct {
	size int64
	read int64
}

func sizeOf(s io.Seeker) (int64, error) {
	size, err := s.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, err
	}
	_, err = s.Seek(0, io.SeekStart)
	return size, err
}

func extractor(f Format) archives.Extractor {
	switch f {
	case Zip:
		// TextEncoding stays nil: names are decoded here, per entry.
		return archives.Zip{}
	case SevenZip:
		return archives.SevenZip{}
	case Rar:
		return archives.Rar{}
	case Tar:
		return archives.Tar{}
	}
	for _, c := range compressions {
		if c.format == f {
			return archives.CompressedArchive{Extraction: archives.Tar{}, Compression: c.c}
		}
	}
	panic("archive: no extractor for " + string(f))
}

// level walks one archive, src, whose entries' names get prefix.
func (w *walker) level(src Source, format Format, size int64, prefix string, depth int) error {
	lv := &levelState{size: size}
	var in io.Reader = src
	if format == Tar {
		// A plain tar is read in 512-byte headers straight from the file;
		// the compressed ones are buffered by their decompressors already.
		in = bufio.NewReaderSize(src, 64<<10)
	}
	err := extractor(format).Extract(w.ctx, in, func(ctx context.Context, fi archives.FileInfo) error {
		return w.entry(lv, fi, prefix, depth)
	})
	if err == nil {
		return nil
	}
	if cerr := w.ctx.Err(); cerr != nil {
		return cerr
	}
	var fe fnError
	if errors.As(err, &fe) {
		return fe // unwrapped by Walk, so that every level passes it up as is
	}
	var ae *Error
	if errors.As(err, &ae) {
		return ae // ours, from an entry: mholt/archives wraps it
	}
	return &Error{Kind: classify(err), Err: cause(err)}
}

// fnError carries fn's own error up through every level unchanged.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

// entry handles one entry of a level.
func (w *walker) entry(lv *levelState, fi archives.FileInfo, prefix string, depth int) error {
	w.entries++
	if w.lim.MaxEntries > 0 && w.entries > w.lim.MaxEntries {
		return &Error{Kind: ErrLimit, Err: &LimitError{Limit: "entries", Max: float64(w.lim.MaxEntries)}}
	}
	if !isRegular(fi) {
		return nil
	}
	e := Entry{Name: prefix + entryName(fi), Size: fi.Size(), Modified: fi.ModTime()}
	if encryptedHeader(fi) {
		e.Encrypted = true
		e.Err = &Error{Archive: w.name, Entry: e.Name, Kind: ErrEncrypted}
		return w.call(e, nil)
	}
	f, err := fi.Open()
	if err != nil {
		kind := classify(err)
		if kind == ErrCorrupt {
			return &Error{Entry: e.Name, Kind: kind, Err: cause(err)}
		}
		e.Encrypted = kind == ErrEncrypted
		e.Err = &Error{Archive: w.name, Entry: e.Name, Kind: kind, Err: cause(err)}
		return w.call(e, nil)
	}
	defer f.Close()
	m := &meter{w: w, lv: lv, r: f, entry: e.Name}
	br := bufio.NewReaderSize(m, 4096)
	// The first read tells an entry that needs a password (7z says so only
	// then) before fn has seen a byte of it.
	head, perr := br.Peek(HeadSize)
	if perr != nil && perr != io.EOF && perr != bufio.ErrBufferFull {
		if errors.Is(perr, ErrEncrypted) {
			e.Encrypted = true
			e.Err = perr
			return w.call(e, nil)
		}
		return perr
	}
	if depth >= w.lim.MaxDepth || !Sniff(head) {
		return w.call(e, br)
	}
	return w.nested(e, br, prefix, depth)
}

// call runs fn, keeping its own errors apart from ours.
func (w *walker) call(e Entry, r io.Reader) error {
	err := w.fn(e, r)
	if err == nil {
		return nil
	}
	var ae *Error
	if errors.As(err, &ae) || (w.ctx.Err() != nil && errors.Is(err, w.ctx.Err())) {
		return err
	}
	return fnError{err}
}

// nested gives fn an entry that may be an archive while copying it to an
// unlinked temporary file, then walks that file one level deeper.
func (w *walker) nested(e Entry, br *bufio.Reader, prefix string, depth int) error {
	spool, err := os.CreateTemp("", "indexer-nested-*")
	if err != nil {
		return fmt.Errorf("spool nested archive %s: %w", e.Name, err)
	}
	os.Remove(spool.Name()) // nothing is left behind, whatever happens next
	defer spool.Close()
	if err := w.call(e, io.TeeReader(br, spool)); err != nil {
		return err
	}
	// fn may have stopped early; the nested archive needs all of it.
	if _, err := io.Copy(spool, br); err != nil {
		var ae *Error
		if errors.As(err, &ae) {
			return err
		}
		return fmt.Errorf("spool nested archive %s: %w", e.Name, err)
	}
	format, ok, err := Identify(w.ctx, spool)
	if err != nil {
		return fmt.Errorf("spool nested archive %s: %w", e.Name, err)
	}
	if !ok {
		return nil
	}
	size, err := sizeOf(spool)
	if err != nil {
		return fmt.Errorf("spool nested archive %s: %w", e.Name, err)
	}
	err = w.level(spool, format, size, e.Name+"::", depth+1)
	var fe fnError
	var ae *Error
	switch {
	case err == nil || errors.As(err, &fe) || !errors.As(err, &ae) || ae.Kind == ErrLimit:
		return err
	}
	// The nested archive is unreadable, as a whole or from one of its
	// entries on: say so on that entry (or the nested archive's own) and go
	// on with the outer archive.
	ae.Archive = w.name
	if ae.Entry == "" {
		ae.Entry = e.Name
	}
	return w.call(Entry{Name: ae.Entry, Encrypted: ae.Kind == ErrEncrypted, Err: ae}, nil)
}

// meter counts what an entry yields against the limits, stops on ctx, and
// turns the decoders' errors into *Error values.
type meter struct {
	w     *walker
	lv    *levelState
	r     io.Reader
	entry string
}

func (m *meter) Read(p []byte) (int, error) {
	if err := m.w.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := m.r.Read(p)
	m.w.read += int64(n)
	m.lv.read += int64(n)
	lim := m.w.lim
	switch {
	case lim.MaxTotalBytes > 0 && m.w.read > lim.MaxTotalBytes:
		return n, &Error{Archive: m.w.name, Kind: ErrLimit, Err: &LimitError{Limit: "bytes", Max: float64(lim.MaxTotalBytes)}}
	case lim.MaxRatio > 0 && m.lv.read > RatioFloor && float64(m.lv.read) > lim.MaxRatio*float64(max(m.lv.size, 1)):
		return n, &Error{Archive: m.w.name, Kind: ErrLimit, Err: &LimitError{Limit: "ratio", Max: lim.MaxRatio}}
	}
	if err != nil && err != io.EOF {
		if cerr := m.w.ctx.Err(); cerr != nil {
			return n, cerr
		}
		return n, &Error{Archive: m.w.name, Entry: m.entry, Kind: classify(err), Err: cause(err)}
	}
	return n, err
}

// classify sorts a decoder's error into ErrEncrypted, ErrUnsupported or
// ErrCorrupt. A volume of a multi-volume rar is unsupported rather than
// corrupt: each part is sound, but none can be read alone.
func classify(err error) error {
	var se *sevenzip.ReadError
	switch {
	case errors.As(err, &se) && se.Encrypted,
		errors.Is(err, rardecode.ErrArchiveEncrypted), errors.Is(err, rardecode.ErrArchivedFileEncrypted),
		errors.Is(err, rardecode.ErrBadPassword):
		return ErrEncrypted
	case errors.Is(err, zip.ErrAlgorithm), errors.Is(err, rardecode.ErrUnknownDecoder),
		errors.Is(err, rardecode.ErrUnsupportedDecoder),
		errors.Is(err, rardecode.ErrMultiVolume), errors.Is(err, rardecode.ErrBadVolumeNumber):
		return ErrUnsupported
	}
	return ErrCorrupt
}

// cause strips the wrapping that mholt/archives adds ("handling file 3:
// name: ..."), which repeats what the report says already, down to the
// decoder's own error.
func cause(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

func isRegular(fi archives.FileInfo) bool {
	if h, ok := fi.Header.(*tar.Header); ok {
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse, tar.TypeCont:
			return true
		}
		return false // hard links carry no content of their own
	}
	return fi.Mode().IsRegular()
}

func encryptedHeader(fi archives.FileInfo) bool {
	switch h := fi.Header.(type) {
	case zip.FileHeader:
		return h.Flags&0x1 != 0
	case *rardecode.FileHeader:
		return h.Encrypted
	}
	return false
}

func entryName(fi archives.FileInfo) string {
	if h, ok := fi.Header.(zip.FileHeader); ok {
		return DecodeZipName(h.Name, h.Flags, h.Extra)
	}
	return fi.NameInArchive
}
