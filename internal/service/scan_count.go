package service

import (
	"context"
	"sync"
	"time"

	"github.com/indexer/indexer/internal/walk"
)

// countRoots starts the count of the roots that gives the progress its
// totals, and so its ETA: one goroutine walks the roots with the scan's own
// walk options (so it counts the files the scan will meet), stat'ing
// entries and reading nothing, beside the scan's walk. The returned function
// stops it, if it is still running, and waits for it; it also stops when
// ctx is done. Only a count that completed sets totals: a partial one would
// make the ETA lie.
func (s *scanRun) countRoots(ctx context.Context) (stop func()) {
	p := s.opts.Progress
	p.begin(time.Now())
	if s.opts.NoTotals {
		return func() {}
	}
	// A scan split by volume counts part by part: this part's count adds
	// to what the parts before it met, and the ETA waits for it.
	baseFiles := p.Files.Load()
	baseBytes := p.Bytes.Load() - p.entryBytes.Load() + p.unread.Load()
	p.counted.Store(false)
	ctx, cancel := context.WithCancel(ctx)
	opts := walk.Options{FollowSymlinks: s.opts.FollowSymlinks, OneFileSystem: s.opts.OneFileSystem,
		Exclude: s.opts.Exclude, Own: s.own}
	var wg sync.WaitGroup
	wg.Go(func() {
		var files, bytes int64
		err := walk.Walk(ctx, s.rep.Roots, opts, func(ev walk.Event) error {
			if ev.Kind == walk.File {
				files++
				bytes += ev.Stat.Size
			}
			return nil
		})
		if err != nil {
			return // canceled: the scan is over, or interrupted
		}
		p.totalFiles.Store(baseFiles + files)
		p.totalBytes.Store(baseBytes + bytes)
		p.counted.Store(true)
		s.c.log.Debug("counted the roots", "files", files, "bytes", bytes)
	})
	return func() {
		cancel()
		wg.Wait()
	}
}
