package service

// The change log and diff. A scan logs, in the transaction that writes a
// chunk of files, each file it adds or modifies (scan.go's writeFiles), and
// each file it marks deleted (markDeleted). Diff folds the log of a range of
// scans into the net change of each file and pairs deletions with additions
// of the same content into moves.

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/uow"
)

// changeOf is the change log's row for f, written over the catalog's row k
// (nil when there was none).
func changeOf(f dto.FileWithHash, k *known) dto.Change {
	ch := dto.Change{ScanID: f.ScanID, Machine: f.Machine, Path: f.Path, ArchivePath: f.ArchivePath,
		Op: dto.OpAdd, NewSize: f.Hash.Size, NewSHA256: f.Hash.SHA256}
	if k != nil && k.op != dto.OpDel {
		ch.Op, ch.OldSize = dto.OpMod, k.v.Size
		if k.hashed {
			ch.OldSHA256 = hex.EncodeToString(k.sha256[:])
		}
	}
	return ch
}

// Bound is one end of a diff's interval: a scan id, or a moment. The zero
// Bound is the default end.
type Bound struct {
	Scan int64
	Time time.Time
}

// DiffOptions choose what a diff compares.
type DiffOptions struct {
	Machine string
	// Since: changes after this scan, or by scans started at or after
	// this moment. Default: after the complete scan before the last
	// complete scan of the same paths (of a path holding Under, if set).
	Since Bound
	// Until: changes up to this scan, or by scans started before this
	// moment. Default: up to the last scan.
	Until Bound
	// Under limits the diff to this path and what lies below it.
	Under string
}

// ErrNoScans means the catalog has no scan to diff.
var ErrNoScans = errors.New("the catalog has no scan of this machine to compare")

// Diff returns what changed on o.Machine between two points of the
// catalog's history. It reads only the change log of the interval, so its
// cost follows the number of changes, not the size of the catalog.
func (c *Catalog) Diff(ctx context.Context, o DiffOptions) (dto.Diff, error) {
	d := dto.Diff{Machine: o.Machine}
	if o.Under != "" {
		abs, err := filepath.Abs(o.Under)
		if err != nil {
			return d, fmt.Errorf("resolve %s: %w", o.Under, err)
		}
		o.Under = abs
	}
	var net netChange
	err := c.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		d.Added, d.Modified, d.Deleted = nil, nil, nil // a retried read starts again
		net = netChange{}
		var err error
		if d.After, d.UpTo, err = interval(ctx, r, o); err != nil {
			return err
		}
		start, err := r.Changes.Start(ctx)
		if err != nil {
			return err
		}
		if d.After < start {
			d.LogStart = start
		}
		return r.Changes.Each(ctx, o.Machine, d.After, d.UpTo, o.Under, func(ch dto.Change) error {
			if !net.of(ch) {
				net.into(&d)
				net = netChange{first: ch, started: true}
			}
			net.last = ch
			return nil
		})
	})
	if err != nil {
		return d, err
	}
	net.into(&d)
	pairMoves(&d)
	d.MovedDirs = dirMoves(d.Moved)
	total(&d)
	return d, nil
}

// interval resolves o's bounds to the scan ids (after, upTo].
func interval(ctx context.Context, r *uow.Repos, o DiffOptions) (after, upTo int64, err error) {
	switch {
	case o.Until.Scan != 0:
		upTo = o.Until.Scan
	case !o.Until.Time.IsZero():
		upTo, err = r.Scans.LastStartedBefore(ctx, o.Until.Time)
	default:
		upTo, err = r.Scans.MaxID(ctx)
	}
	if err != nil {
		return 0, 0, err
	}
	switch {
	case o.Since.Scan != 0:
		return o.Since.Scan, upTo, nil
	case !o.Since.Time.IsZero():
		after, err = r.Scans.LastStartedBefore(ctx, o.Since.Time)
		return after, upTo, err
	}
	scans, err := r.Scans.Complete(ctx, o.Machine)
	if err != nil {
		return 0, 0, err
	}
	// The last complete scan of the paths (up to upTo), then the one
	// before it of exactly the same roots.
	var last *dto.Scan
	for i := range scans {
		s := &scans[i]
		if s.ID > upTo || (o.Under != "" && !covers(s.Roots, o.Under)) {
			continue
		}
		if last == nil {
			last = s
			continue
		}
		if slices.Equal(s.Roots, last.Roots) {
			return s.ID, upTo, nil
		}
	}
	if last == nil {
		return 0, 0, ErrNoScans
	}
	return 0, upTo, nil // one complete scan: everything the log holds
}

// covers reports whether one of roots is p or holds it.
func covers(roots []string, p string) bool {
	for _, r := range roots {
		if p == r || strings.HasPrefix(p, strings.TrimSuffix(r, "/")+"/") {
			return true
		}
	}
	return false
}

// netChange folds the changes of one file, in the order they happened.
type netChange struct {
	first, last dto.Change
	started     bool
}

func (n *netChange) of(ch dto.Change) bool {
	return n.started && ch.Path == n.first.Path && ch.ArchivePath == n.first.ArchivePath
}

// into adds the file's net change to d: what it was before its first
// change against what it was after its last one.
func (n *netChange) into(d *dto.Diff) {
	if !n.started {
		return
	}
	f, l := n.first, n.last
	before, after := f.Op != dto.OpAdd, l.Op != dto.OpDel
	switch {
	case !before && after:
		d.Added = append(d.Added, dto.DiffFile{Path: l.Path, ArchivePath: l.ArchivePath, Size: l.NewSize, SHA256: l.NewSHA256, ScanID: l.ScanID})
	case before && !after:
		d.Deleted = append(d.Deleted, dto.DiffFile{Path: f.Path, ArchivePath: f.ArchivePath, Size: f.OldSize, SHA256: f.OldSHA256, ScanID: l.ScanID})
	case before && after && (f.OldSHA256 != l.NewSHA256 || f.OldSize != l.NewSize):
		d.Modified = append(d.Modified, dto.DiffModified{Path: l.Path, ArchivePath: l.ArchivePath, OldSize: f.OldSize, NewSize: l.NewSize,
			OldSHA256: f.OldSHA256, NewSHA256: l.NewSHA256, ScanID: l.ScanID})
	}
}

// pairMoves turns a deletion and an addition of the same content into a
// move. An addition takes a deletion of the same name first, else the first
// in path order. Empty files and files never hashed are never paired: they
// share their content with too many others to say which moved where.
func pairMoves(d *dto.Diff) {
	gone := map[string][]int{} // sha256 → indexes in d.Deleted, in path order
	for i, f := range d.Deleted {
		if f.Size > 0 && f.SHA256 != "" {
			gone[f.SHA256] = append(gone[f.SHA256], i)
		}
	}
	if len(gone) == 0 {
		return
	}
	movedFrom := map[int]bool{}
	var added []dto.DiffFile
	for _, a := range d.Added {
		cands := gone[a.SHA256]
		if len(cands) == 0 {
			added = append(added, a)
			continue
		}
		pick := 0
		for j, i := range cands {
			if baseName(d.Deleted[i]) == baseName(a) {
				pick = j
				break
			}
		}
		i := cands[pick]
		gone[a.SHA256] = slices.Delete(cands, pick, pick+1)
		movedFrom[i] = true
		from := d.Deleted[i]
		d.Moved = append(d.Moved, dto.DiffMove{From: from.Path, FromArchivePath: from.ArchivePath, To: a.Path, ToArchivePath: a.ArchivePath,
			Size: a.Size, SHA256: a.SHA256, ScanID: a.ScanID})
	}
	var deleted []dto.DiffFile
	for i, f := range d.Deleted {
		if !movedFrom[i] {
			deleted = append(deleted, f)
		}
	}
	d.Added, d.Deleted = added, deleted
}

func baseName(f dto.DiffFile) string {
	if f.ArchivePath != "" {
		return entryName(f.ArchivePath)
	}
	return filepath.Base(f.Path)
}

// dirMoves finds the directories that moved: moves of plain files that
// kept their path below one directory, now below another. A move's
// directories are what remains of its two paths once their longest common
// tail of whole names is cut off; at least two moves must share them.
func dirMoves(moves []dto.DiffMove) []dto.DirMove {
	type key struct{ from, to string }
	groups := map[key]*dto.DirMove{}
	var order []key
	for _, m := range moves {
		if m.FromArchivePath != "" || m.ToArchivePath != "" {
			continue
		}
		from, to, ok := movedDirs(m.From, m.To)
		if !ok {
			continue
		}
		k := key{from, to}
		g := groups[k]
		if g == nil {
			g = &dto.DirMove{From: from, To: to}
			groups[k] = g
			order = append(order, k)
		}
		g.Files++
		g.Bytes += m.Size
	}
	for i, m := range moves {
		if from, to, ok := movedDirs(m.From, m.To); ok && m.FromArchivePath == "" && m.ToArchivePath == "" && groups[key{from, to}].Files > 1 {
			moves[i].InDirMove = true
		}
	}
	var out []dto.DirMove
	for _, k := range order {
		if g := groups[k]; g.Files > 1 {
			out = append(out, *g)
		}
	}
	slices.SortFunc(out, func(a, b dto.DirMove) int { return strings.Compare(a.From, b.From) })
	return out
}

// movedDirs cuts the longest common tail of whole names off from and to,
// and returns what remains of each; ok is false when the names differ.
func movedDirs(from, to string) (string, string, bool) {
	cut := false
	for {
		fi, ti := strings.LastIndexByte(from, '/'), strings.LastIndexByte(to, '/')
		if fi <= 0 || ti <= 0 || from[fi:] != to[ti:] {
			return from, to, cut
		}
		from, to, cut = from[:fi], to[:ti], true
	}
}

func total(d *dto.Diff) {
	t := &d.Totals
	for _, f := range d.Added {
		t.Added++
		t.AddedBytes += f.Size
	}
	for _, f := range d.Modified {
		t.Modified++
		t.ModifiedBytes += f.NewSize
	}
	for _, f := range d.Deleted {
		t.Deleted++
		t.DeletedBytes += f.Size
	}
	for _, m := range d.Moved {
		t.Moved++
		t.MovedBytes += m.Size
	}
}

// PruneHistory drops the change log of the scans started before t, and
// returns how many changes it dropped. Diffs of intervals that begin
// before t then say that the log starts later.
func (c *Catalog) PruneHistory(ctx context.Context, t time.Time) (int64, error) {
	var n int64
	err := c.uow.Do(ctx, "history.prune", func(ctx context.Context, r *uow.Repos) error {
		upTo, err := r.Scans.LastStartedBefore(ctx, t)
		if err != nil || upTo == 0 {
			return err
		}
		n, err = r.Changes.Prune(ctx, upTo)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune history: %w", err)
	}
	return n, nil
}
