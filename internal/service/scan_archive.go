package service

// Archive entries in the scan. A hash worker that has hashed a file whose
// first bytes look like an archive walks its entries (internal/archive) and
// sends each as a result of its own, before the file's row; the writer
// stores entries like files, with is_archived = 1, path = the archive's path
// and archive_path = the inner path.
//
// Incremental rules:
//   - An unchanged archive (its validators match) is not opened: its present
//     entry rows are counted as seen. So an archive catalogued while archives
//     were off is read only once it changes, or with --rehash.
//   - A changed archive is read again: entries still in it are ADD, MOD or
//     unchanged by content, and the others become DEL once the walk has
//     completed.
//   - An archive that could not be read to its end (corrupt, truncated, a
//     limit reached, changed while read) is one failure; entries read before
//     the problem are stored, no entry becomes DEL, and the file is stored
//     with a zero ctime, so that the next scan reads it again (and reports
//     the problem again if it remains).
//   - A gone archive takes its entries along to DEL; a file that is no longer
//     an archive, or a changed one while archives are off, has its entry rows
//     turned DEL; an unchanged one while archives are off keeps them as they
//     are.
//   - Encrypted entries, and wholly encrypted archives, are skips (reason
//     "encrypted"), not failures: nothing is wrong with them, and no scan can
//     read them without a password. They get no row.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"syscall"

	"github.com/indexer/indexer/internal/archive"
	"github.com/indexer/indexer/internal/digest"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/walk"
)

// Skip reasons of archive entries.
const (
	ReasonEncrypted      = "encrypted"
	ReasonDuplicateEntry = "duplicate entry name"
	ReasonUnnamedEntry   = "entry without a name"
)

// EntrySeparator joins an archive's path and an entry's inner path in
// reports: "/backup/photos.zip::2019/IMG_0001.jpg". Nested archives' entries
// carry it in their inner path too: "outer.zip::inner.tar.gz::file".
const EntrySeparator = "::"

// knowEntry records an entry row the catalog holds.
func (s *scanRun) knowEntry(archivePath, inner string, k *known) {
	m := s.entries[archivePath]
	if m == nil {
		m = map[string]*known{}
		s.entries[archivePath] = m
	}
	m[inner] = k
}

// touchEntries counts the present entries of an unchanged archive as seen.
// With archives off they are left as they are: not seen, not gone.
func (s *scanRun) touchEntries(entries map[string]*known) {
	if !s.opts.Archives {
		return
	}
	var n int64
	for _, k := range entries {
		if k.op != dto.OpDel {
			s.touch()
			n++
		}
	}
	if n > 0 {
		s.count(tally{entries: n}, 0) // seen among the files touched
	}
}

// entriesGone queues the present entries among entries for DEL.
func (s *scanRun) entriesGone(entries map[string]*known) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.goneEntries = appendPresent(s.goneEntries, entries)
}

func appendPresent(ids []int64, entries map[string]*known) []int64 {
	for _, k := range entries {
		if k.op != dto.OpDel {
			ids = append(ids, k.id)
		}
	}
	return ids
}

// indexArchive reads the entries of j's file, just hashed as st, when it is
// an archive and archives are on, and sends them to the writer. It returns
// the stat to store for the file itself, and an error only when the scan
// must stop (ctx done). Problems with the archive are in the report.
func (s *scanRun) indexArchive(ctx context.Context, h *digest.Hasher, j job, st walk.Stat, head []byte,
	results chan<- result) (walk.Stat, error) {
	if !s.opts.Archives || !archive.Sniff(head) {
		s.entriesGone(j.entries)
		return st, nil
	}
	// Opened as hashFileHead opened it: a root named by the user is followed.
	f, err := openArchive(j.path, j.follow, st)
	if err != nil {
		s.fail(j.path, err)
		return unsettled(st), nil
	}
	defer f.Close()
	seen := map[string]bool{}
	err = archive.Walk(ctx, j.path, f, s.opts.ArchiveLimits, func(e archive.Entry, r io.Reader) error {
		return s.indexEntry(ctx, h, j, st, e, r, seen, results)
	})
	var ae *archive.Error
	switch {
	case err == nil, errors.Is(err, archive.ErrNotArchive):
		s.entriesGone(j.entries)
		return st, nil
	case ctx.Err() != nil:
		return st, ctx.Err()
	case errors.As(err, &ae) && ae.Kind == archive.ErrEncrypted && ae.Entry == "":
		s.skip(j.path, ReasonEncrypted)
		s.entriesGone(j.entries)
		return st, nil
	case errors.As(err, &ae):
		s.fail(entryPath(j.path, ae.Entry), archiveProblem{ae})
	default:
		s.fail(j.path, fmt.Errorf("read archive entries: %w", err))
	}
	return unsettled(st), nil
}

// indexEntry hashes one entry and sends it to the writer.
func (s *scanRun) indexEntry(ctx context.Context, h *digest.Hasher, j job, st walk.Stat, e archive.Entry,
	r io.Reader, seen map[string]bool, results chan<- result) error {
	full := entryPath(j.path, e.Name)
	var ae *archive.Error
	switch {
	case e.Encrypted:
		s.skip(full, ReasonEncrypted)
		return nil
	case errors.As(e.Err, &ae):
		s.fail(full, archiveProblem{ae})
		return nil
	case e.Err != nil:
		s.fail(full, e.Err)
		return nil
	case e.Name == "":
		s.skip(full, ReasonUnnamedEntry) // its row would be the archive's own
		return nil
	case seen[e.Name]:
		// A tar may hold a name twice (appended updates); the catalog
		// holds one row per name: the first.
		s.skip(full, ReasonDuplicateEntry)
		return nil
	}
	seen[e.Name] = true
	h.Reset()
	if _, err := h.ReadFrom(&progressReader{ctx: ctx, r: r, p: s.opts.Progress, entry: true}); err != nil {
		if errors.Is(err, archive.ErrEncrypted) {
			s.skip(full, ReasonEncrypted)
			return nil
		}
		return err // the walk stops, and says why
	}
	k := j.entries[e.Name]
	delete(j.entries, e.Name)
	modified := e.Modified
	if modified.IsZero() {
		modified = st.Modified // the archive records no time: its own is the best guess
	}
	return s.send(ctx, results, result{path: j.path, inner: e.Name, modified: modified, hash: h.Sum(), known: k})
}

// openArchive opens a file just hashed as st to read its entries, and checks
// that it is still the file that was hashed.
func openArchive(p string, follow bool, st walk.Stat) (*os.File, error) {
	flags := os.O_RDONLY | syscall.O_NONBLOCK
	if !follow {
		flags |= syscall.O_NOFOLLOW
	}
	f, err := os.OpenFile(p, flags, 0)
	if err != nil {
		return nil, fmt.Errorf("open archive: %w", describe(err))
	}
	now, err := walk.Fstat(int(f.Fd()))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open archive: %w", describe(err))
	}
	v, w := st.Validators, now.Validators
	if v.Size != w.Size || v.MtimeNS != w.MtimeNS || v.Inode != w.Inode || v.Device != w.Device ||
		(v.CtimeNS != 0 && v.CtimeNS != w.CtimeNS) {
		f.Close()
		return nil, fmt.Errorf("%w before its archive entries could be read", ErrChanged)
	}
	return f, nil
}

// unsettled makes a file's validators fail to match next time, so that the
// next scan reads it, and its entries, again.
func unsettled(st walk.Stat) walk.Stat {
	st.CtimeNS = 0
	return st
}

// entryPath is "ARCHIVE::INNER", or the archive alone when inner is empty.
func entryPath(archivePath, inner string) string {
	if inner == "" {
		return archivePath
	}
	return archivePath + EntrySeparator + inner
}

// entryMeta is the catalog row of an archive entry.
func (s *scanRun) entryMeta(b result, op dto.Operation) dto.FileMeta {
	return dto.FileMeta{
		Machine: s.opts.Machine, Path: b.path, ArchivePath: b.inner, Name: entryName(b.inner),
		Size: b.hash.Size, Modified: b.modified, Scanned: s.rep.Started, Operation: op,
		IsArchived: true, ScanID: s.rep.ID,
		// No inode, device or times of their own: the archive's validators
		// decide whether its entries are read again.
		Validators: dto.Validators{Size: b.hash.Size},
	}
}

// entryName is the base name of an inner path, for name searches:
// "docs/a.txt" and "inner.zip::docs/a.txt" give "a.txt".
func entryName(inner string) string {
	if i := strings.LastIndex(inner, EntrySeparator); i >= 0 {
		inner = inner[i+len(EntrySeparator):]
	}
	if base := path.Base(strings.TrimRight(inner, "/")); base != "." && base != "/" {
		return base
	}
	return inner
}

// archiveProblem words an *archive.Error for a report that names the
// archive, or the entry, already; errors.Is and As still see the original.
type archiveProblem struct{ err *archive.Error }

func (p archiveProblem) Error() string { return p.err.Reason() }
func (p archiveProblem) Unwrap() error { return p.err }
