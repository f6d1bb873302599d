package service

// Verify reads catalogued files again and compares their md5, sha1 and
// sha256 with the catalog's: a scrub. It shares the scan's reading and
// hashing (hashFileHead), so it reads as fast, and records each file's last
// verification in chunks, so that an interrupted run keeps its work.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/indexer/indexer/internal/archive"
	"github.com/indexer/indexer/internal/digest"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/numfmt"
	"github.com/indexer/indexer/internal/repo"
	"github.com/indexer/indexer/internal/uow"
	"github.com/indexer/indexer/internal/walk"
)

// VerifyOptions choose what verify reads.
type VerifyOptions struct {
	Machine string
	// Paths limit verify to these paths and what lies below them; none
	// means every file of Machine.
	Paths []string
	// SamplePercent, when above 0, verifies only that share of the chosen
	// files: those verified least recently (never verified first).
	SamplePercent float64
	// MaxBytes, when above 0, stops choosing files, least recently verified
	// first, once their sizes add up to it (at least one file is read).
	MaxBytes int64
	// OlderThan, when above 0, skips files verified more recently.
	OlderThan time.Duration
	// Accept takes the content of the files found corrupt as good: the
	// catalog's digests become what was read.
	Accept bool
	// Workers read files in parallel; 0 means as many as a scan has.
	Workers int
	// Progress, when not nil, counts files checked and bytes read.
	Progress *ScanProgress
}

// VerifyFinding is a file that did not verify ok.
type VerifyFinding struct {
	Path        string            `json:"path"`
	ArchivePath string            `json:"archive_path,omitempty"`
	Outcome     dto.VerifyOutcome `json:"outcome"`
	Expected    *Digests          `json:"expected,omitempty"` // for corrupt files
	Actual      *Digests          `json:"actual,omitempty"`
	Detail      string            `json:"detail,omitempty"`
	Accepted    bool              `json:"accepted,omitempty"` // --accept took the new content
}

// Digests are a content's size and digests, in lower-case hex.
type Digests struct {
	Size   int64  `json:"size"`
	MD5    string `json:"md5"`
	SHA1   string `json:"sha1"`
	SHA256 string `json:"sha256"`
}

func newDigests(h dto.FileHash) *Digests {
	return &Digests{Size: h.Size, MD5: h.MD5, SHA1: h.SHA1, SHA256: h.SHA256}
}

// VerifyReport is the outcome of a verify run.
type VerifyReport struct {
	Checked    int64 `json:"checked"`
	OK         int64 `json:"ok"`
	Corrupt    int64 `json:"corrupt"`
	Changed    int64 `json:"changed"`
	Missing    int64 `json:"missing"`
	Unreadable int64 `json:"unreadable"`
	// Offline counts the files on volumes not mounted now: not read, not
	// checked, neither missing nor corrupt.
	Offline  int64         `json:"offline"`
	Bytes    int64         `json:"bytes_read"`
	Duration time.Duration `json:"-"`
	// DurationMS is Duration in whole milliseconds, as every JSON has it.
	DurationMS int64           `json:"duration_ms"`
	Findings   []VerifyFinding `json:"findings"`
}

// checked is one file's verification on its way to the catalog.
type checked struct {
	v   dto.Verification
	t   dto.VerifyTarget
	err error // the cause, for unreadable
}

// Verify re-reads the files o chooses and compares them with the catalog.
// Per-file outcomes are in the report; the error means verify itself
// failed, or ctx was canceled (then what was verified is recorded).
func (c *Catalog) Verify(ctx context.Context, o VerifyOptions) (VerifyReport, error) {
	start := time.Now()
	if o.Workers <= 0 {
		o.Workers = max(runtime.NumCPU(), digest.Streams())
	}
	if o.Progress == nil {
		o.Progress = &ScanProgress{}
	}
	for i, p := range o.Paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return VerifyReport{}, fmt.Errorf("resolve %s: %w", p, err)
		}
		o.Paths[i] = abs
	}
	places, err := c.Places(ctx)
	if err != nil {
		return VerifyReport{}, err
	}
	// A volume's rows are paths of the volume: PATHs below its mount now
	// are verified as its rows (verify /media/usb), and a volume's own
	// PATHs may be given as they are now on this host.
	var parts []VerifyOptions
	if dto.IsVolumeMachine(o.Machine) {
		for i, p := range o.Paths {
			if rel, ok := places.Rel(o.Machine, p); ok {
				o.Paths[i] = rel
			}
		}
		parts = append(parts, o)
	} else {
		byVolume := map[string][]string{}
		var host []string
		for _, p := range o.Paths {
			if m, rel, ok := places.At(p); ok {
				byVolume[m] = append(byVolume[m], rel)
			} else {
				host = append(host, p)
			}
		}
		if len(o.Paths) == 0 || len(host) > 0 {
			h := o
			h.Paths = host
			parts = append(parts, h)
		}
		for _, m := range slices.Sorted(maps.Keys(byVolume)) {
			vo := o
			vo.Machine, vo.Paths = m, byVolume[m]
			parts = append(parts, vo)
		}
	}
	var rep VerifyReport
	for _, p := range parts {
		r, err := c.verifyMachine(ctx, p, places, start)
		rep.add(r)
		if err != nil {
			rep.finish(start, o.Progress)
			return rep, err
		}
	}
	rep.finish(start, o.Progress)
	return rep, nil
}

// add adds the report of another machine's part of a verify run to r.
func (r *VerifyReport) add(o VerifyReport) {
	r.Checked += o.Checked
	r.OK += o.OK
	r.Corrupt += o.Corrupt
	r.Changed += o.Changed
	r.Missing += o.Missing
	r.Unreadable += o.Unreadable
	r.Offline += o.Offline
	r.Findings = append(r.Findings, o.Findings...)
}

// finish sets the report's duration and bytes, and sorts its findings.
func (r *VerifyReport) finish(start time.Time, p *ScanProgress) {
	r.Duration = time.Since(start)
	r.DurationMS = r.Duration.Milliseconds()
	r.Bytes = p.Bytes.Load()
	slices.SortFunc(r.Findings, func(a, b VerifyFinding) int {
		return cmp2(a.Path, b.Path, a.ArchivePath, b.ArchivePath)
	})
}

// verifyMachine verifies the files of one machine (a host or a volume),
// o.Paths being that machine's paths.
func (c *Catalog) verifyMachine(ctx context.Context, o VerifyOptions, places *Places, start time.Time) (VerifyReport, error) {
	sel := dto.VerifySelect{Machine: o.Machine, Under: o.Paths}
	if o.OlderThan > 0 {
		sel.Before = start.Add(-o.OlderThan)
	}
	v := &verifyRun{c: c, o: o, uow: uow.New(c.db), places: places}
	jobs := make(chan dto.VerifyTarget, o.Workers*4)
	results := make(chan checked, 512)
	g, gctx := errgroup.WithContext(ctx)
	var producers sync.WaitGroup
	producers.Add(1 + o.Workers)
	go func() { producers.Wait(); close(results) }()
	g.Go(func() error {
		defer producers.Done()
		defer close(jobs)
		return v.choose(gctx, sel, jobs)
	})
	for range o.Workers {
		g.Go(func() error {
			defer producers.Done()
			return v.worker(gctx, jobs, results)
		})
	}
	// The writer drains results to the end and commits on a context that
	// Ctrl-C does not cancel: what was read is recorded.
	writerErr := make(chan error, 1)
	go func() { writerErr <- v.writer(context.WithoutCancel(ctx), results) }()
	gerr := g.Wait()
	werr := <-writerErr
	if werr != nil {
		return v.rep, werr
	}
	if ctx.Err() != nil {
		return v.rep, ctx.Err()
	}
	return v.rep, gerr
}

func cmp2(a1, b1, a2, b2 string) int {
	if c := strings.Compare(a1, b1); c != 0 {
		return c
	}
	return strings.Compare(a2, b2)
}

type verifyRun struct {
	c      *Catalog
	o      VerifyOptions
	uow    *uow.UoW
	places *Places      // where the files of a volume are now
	rep    VerifyReport // the writer's alone until it returns
}

// choose sends the plain files to verify: in path order, so that reads
// stay close on disk; with a sample or a byte budget, the least recently
// verified are chosen first, then sorted by path.
func (v *verifyRun) choose(ctx context.Context, sel dto.VerifySelect, jobs chan<- dto.VerifyTarget) error {
	send := func(t dto.VerifyTarget) error {
		select {
		case jobs <- t:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if v.o.SamplePercent <= 0 && v.o.MaxBytes <= 0 {
		return v.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
			return r.Verifications.EachPlain(ctx, sel, false, send)
		})
	}
	var chosen []dto.VerifyTarget
	err := v.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		chosen = chosen[:0]
		limit := int64(math.MaxInt64)
		if v.o.SamplePercent > 0 {
			n, err := r.Verifications.CountPlain(ctx, sel)
			if err != nil {
				return err
			}
			limit = int64(math.Ceil(float64(n) * min(v.o.SamplePercent, 100) / 100))
		}
		var bytes int64
		return r.Verifications.EachPlain(ctx, sel, true, func(t dto.VerifyTarget) error {
			if int64(len(chosen)) >= limit || (v.o.MaxBytes > 0 && len(chosen) > 0 && bytes+t.Size > v.o.MaxBytes) {
				return repo.ErrStop
			}
			bytes += t.Size
			chosen = append(chosen, t)
			return nil
		})
	})
	if err != nil && !errors.Is(err, repo.ErrStop) {
		return err
	}
	slices.SortFunc(chosen, func(a, b dto.VerifyTarget) int { return strings.Compare(a.Path, b.Path) })
	for _, t := range chosen {
		if err := send(t); err != nil {
			return err
		}
	}
	return nil
}

func (v *verifyRun) worker(ctx context.Context, jobs <-chan dto.VerifyTarget, results chan<- checked) error {
	h := digest.New()
	for t := range jobs {
		dir := filepath.Dir(t.Path)
		v.o.Progress.dir.Store(&dir)
		out := v.verifyFile(ctx, h, t)
		if ctx.Err() != nil {
			return ctx.Err() // a read cut short proves nothing: not recorded
		}
		for _, c := range out {
			v.o.Progress.Files.Add(1)
			results <- c
		}
	}
	return nil
}

// verifyFile verifies one plain file and, when it is an archive the
// catalog holds entries of, those entries.
func (v *verifyRun) verifyFile(ctx context.Context, h *digest.Hasher, t dto.VerifyTarget) []checked {
	now := time.Now()
	stored := t.Path
	if dto.IsVolumeMachine(v.o.Machine) {
		// A volume's row is read where the volume is mounted now, and
		// never on the host when it is not.
		abs, dev, ok := v.places.Abs(v.o.Machine, t.Path)
		if !ok {
			return []checked{{t: t, v: dto.Verification{FileID: t.FileID, Verified: now, Expected: t.Hash,
				Outcome: dto.VerifyOffline, Detail: "its volume " + v.volumeName() + " is not mounted; not checked"}}}
		}
		t.Path, t.Device = abs, dev
	}
	res := checked{t: t, v: dto.Verification{FileID: t.FileID, Verified: now, Expected: t.Hash}}
	res.v.Outcome, res.v.Detail, res.err = v.readFile(ctx, h, t, &res.v.Actual)
	if ctx.Err() != nil || !archive.Sniff(h.Head()) || res.v.Outcome == dto.VerifyChanged {
		return []checked{res}
	}
	var entries map[string]dto.VerifyTarget
	err := v.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		var err error
		entries, err = r.Verifications.Entries(ctx, v.o.Machine, stored)
		return err
	})
	if err != nil {
		res.v.Outcome, res.v.Detail, res.err = dto.VerifyUnreadable, "read its entries from the catalog: "+err.Error(), err
		return []checked{res}
	}
	for k, e := range entries {
		e.Path = t.Path // as the archive is now
		entries[k] = e
	}
	return append(v.verifyEntries(ctx, h, t, entries, now), res)
}

// volumeName names the volume being verified: its label, else its UUID.
func (v *verifyRun) volumeName() string {
	ref := v.places.Ref(v.o.Machine, "/")
	if ref != nil && ref.Label != "" {
		return ref.Label
	}
	if ref != nil && ref.UUID != "" {
		return ref.UUID
	}
	return v.o.Machine
}

// readFile reads t's file and tells its outcome; actual gets what was read.
func (v *verifyRun) readFile(ctx context.Context, h *digest.Hasher, t dto.VerifyTarget, actual *dto.FileHash) (dto.VerifyOutcome, string, error) {
	h.Reset()
	st, err := walk.Follow(t.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return dto.VerifyMissing, "", nil
	case err != nil:
		return dto.VerifyUnreadable, cause(err).Error(), err
	case !st.IsRegular():
		return dto.VerifyChanged, "no longer a regular file", nil
	case st.Size != t.Size || st.MtimeNS != t.MtimeNS:
		return dto.VerifyChanged, "", nil
	case t.Inode != 0 && (st.Inode != t.Inode || st.Device != t.Device):
		// Same size and mtime, another file (rsync -t, cp -p): a
		// replacement, not the catalogued file gone bad.
		return dto.VerifyChanged, "replaced by another file", nil
	}
	st, sum, _, err := hashFileHead(ctx, h, t.Path, true, v.o.Progress)
	switch {
	case errors.Is(err, ErrChanged):
		return dto.VerifyChanged, "it changed while being read", nil
	case errors.Is(err, syscall.ENOENT):
		return dto.VerifyMissing, "", nil
	case err != nil:
		return dto.VerifyUnreadable, err.Error(), err
	case st.Size != t.Size || st.MtimeNS != t.MtimeNS:
		return dto.VerifyChanged, "", nil
	}
	*actual = sum
	if sum != t.Hash {
		return dto.VerifyCorrupt, "", nil
	}
	return dto.VerifyOK, "", nil
}

// verifyEntries verifies the catalogued entries of the archive t, just read.
func (v *verifyRun) verifyEntries(ctx context.Context, h *digest.Hasher, t dto.VerifyTarget, entries map[string]dto.VerifyTarget, now time.Time) []checked {
	if len(entries) == 0 {
		return nil
	}
	var out []checked
	add := func(e dto.VerifyTarget, o dto.VerifyOutcome, detail string, actual dto.FileHash) {
		out = append(out, checked{t: e, v: dto.Verification{FileID: e.FileID, Verified: now, Expected: e.Hash,
			Outcome: o, Detail: detail, Actual: actual}})
	}
	f, err := os.Open(t.Path)
	if err == nil {
		defer f.Close()
		err = archive.Walk(ctx, t.Path, f, archive.Limits{MaxTotalBytes: -1, MaxEntries: -1, MaxRatio: -1, MaxDepth: archive.DefaultMaxDepth},
			func(e archive.Entry, r io.Reader) error {
				want, ok := entries[e.Name]
				if !ok {
					return nil
				}
				delete(entries, e.Name)
				var ae *archive.Error
				switch {
				case errors.As(e.Err, &ae) && errors.Is(ae, archive.ErrCorrupt):
					add(want, dto.VerifyCorrupt, ae.Reason(), dto.FileHash{})
					return nil
				case e.Err != nil:
					add(want, dto.VerifyUnreadable, e.Err.Error(), dto.FileHash{})
					return nil
				}
				h.Reset()
				if _, err := h.ReadFrom(&progressReader{ctx: ctx, r: r, p: v.o.Progress}); err != nil {
					if errors.As(err, &ae) && errors.Is(ae, archive.ErrCorrupt) {
						add(want, dto.VerifyCorrupt, ae.Reason(), dto.FileHash{})
					} else {
						add(want, dto.VerifyUnreadable, err.Error(), dto.FileHash{})
					}
					return err
				}
				sum := h.Sum()
				if sum != want.Hash {
					add(want, dto.VerifyCorrupt, "", sum)
				} else {
					add(want, dto.VerifyOK, "", sum)
				}
				return nil
			})
	}
	// What the walk did not reach: not in the archive, or not readable.
	for _, e := range entries {
		switch {
		case err == nil || errors.Is(err, archive.ErrNotArchive):
			add(e, dto.VerifyMissing, "not in the archive", dto.FileHash{})
		default:
			add(e, dto.VerifyUnreadable, "the archive could not be read to it: "+err.Error(), dto.FileHash{})
		}
	}
	return out
}

// writer records verifications in chunks of repo.ChunkSize, each in one
// transaction, in file-id order, and gathers the report.
func (v *verifyRun) writer(ctx context.Context, results <-chan checked) error {
	var batch []checked
	var fatal error
	flush := func() {
		if fatal != nil || len(batch) == 0 {
			batch = batch[:0]
			return
		}
		slices.SortFunc(batch, func(a, b checked) int { return int(a.v.FileID - b.v.FileID) })
		fatal = v.uow.Do(ctx, "verify.record", func(ctx context.Context, r *uow.Repos) error {
			var plain []dto.Verification
			for _, c := range batch {
				if v.o.Accept && c.v.Outcome == dto.VerifyCorrupt && c.v.Actual.SHA256 != "" {
					if err := r.Verifications.Accept(ctx, c.v.FileID, c.v.Actual, c.v.Verified); err != nil {
						return err
					}
					continue
				}
				if c.v.Outcome != dto.VerifyOffline { // not read: nothing to record
					plain = append(plain, c.v)
				}
			}
			return r.Verifications.Record(ctx, plain)
		})
		if fatal != nil {
			fatal = fmt.Errorf("record verifications: %w", fatal)
		} else {
			for _, c := range batch {
				v.tally(c)
			}
		}
		batch = batch[:0]
	}
	for c := range results {
		if fatal != nil {
			continue // drain so that the workers never block
		}
		batch = append(batch, c)
		if len(batch) >= repo.ChunkSize {
			flush()
		}
	}
	flush()
	return fatal
}

func (v *verifyRun) tally(c checked) {
	r := &v.rep
	if c.v.Outcome == dto.VerifyOffline {
		r.Offline++
	} else {
		r.Checked++
	}
	switch c.v.Outcome {
	case dto.VerifyOK:
		r.OK++
		return
	case dto.VerifyCorrupt:
		r.Corrupt++
	case dto.VerifyChanged:
		r.Changed++
	case dto.VerifyMissing:
		r.Missing++
	case dto.VerifyUnreadable:
		r.Unreadable++
	}
	f := VerifyFinding{Path: c.t.Path, ArchivePath: c.t.ArchivePath, Outcome: c.v.Outcome, Detail: c.v.Detail}
	if c.v.Outcome == dto.VerifyCorrupt {
		act := c.v.Actual
		f.Expected = newDigests(c.v.Expected)
		if act.SHA256 != "" {
			f.Actual = newDigests(act)
		}
		f.Accepted = v.o.Accept && act.SHA256 != ""
	}
	r.Findings = append(r.Findings, f)
}

// VerifySummary returns when the catalog was last verified and the
// corruption found and not resolved since.
func (c *Catalog) VerifySummary(ctx context.Context) (dto.VerifySummary, error) {
	var s dto.VerifySummary
	err := c.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		var err error
		s, err = r.Verifications.Summary(ctx)
		return err
	})
	return s, err
}

// verificationCheck grades what verify found for health: corruption not
// resolved since is degraded, for the catalog no longer describes the disk.
func verificationCheck(v dto.VerifySummary) (string, dto.CheckStatus, string) {
	switch {
	case len(v.Corrupt) > 0:
		first := v.Corrupt[0]
		return "verification", dto.StatusDegraded, fmt.Sprintf("%s found corrupt and not resolved since (rescan them, or 'indexer verify --accept PATH'), first: %s",
			numfmt.Plural(int64(len(v.Corrupt)), "file"), entryPath(first.Path, first.ArchivePath))
	case v.LastVerified.IsZero():
		return "verification", dto.StatusOK, "never verified ('indexer verify' re-reads the files)"
	}
	return "verification", dto.StatusOK, fmt.Sprintf("last verified at %s, %s verified, no corruption found",
		v.LastVerified.UTC().Format(time.RFC3339), numfmt.Plural(v.Verified, "file"))
}
