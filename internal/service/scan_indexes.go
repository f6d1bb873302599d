package service

import (
	"context"
	"fmt"
	"time"

	"github.com/indexer/indexer/internal/uow"
)

// deferIndexesAfter is how many files a scan adds before it sets the
// catalog's secondary indexes aside, if they are also at least a quarter of
// the rows the catalog held when the scan began. Measured with modernc's
// SQLite: a new row costs about 35 µs with the random-keyed indexes kept up
// to date and 7 µs without them, and building them again costs about 5 µs
// per row of the whole catalog. Setting them aside pays once the files added
// outnumber a fifth of the catalog; a quarter leaves a margin, and a scan
// that adds a few thousand files to a large catalog keeps them. A variable
// for tests.
var deferIndexesAfter int64 = 5000

// maybeDeferIndexes sets the secondary indexes aside once this scan has
// added enough files for that to pay (see deferIndexesAfter). If that fails,
// the scan goes on with the indexes kept up to date.
func (s *scanRun) maybeDeferIndexes(ctx context.Context) {
	if !s.uow.DB().Dialect().MayDeferIndexes() {
		return // nor may its writers share s.deferred (see chunkWriters)
	}
	s.mu.Lock()
	added := s.rep.Counts.Added
	s.mu.Unlock()
	if s.deferred || added < deferIndexesAfter || added < s.rowsAtStart/4 {
		return
	}
	var n int
	err := s.uow.Do(ctx, "scan.defer_indexes", func(ctx context.Context, r *uow.Repos) error {
		var err error
		n, err = r.Indexes.Defer(ctx)
		return err
	})
	if err != nil {
		s.c.log.Warn("cannot set the catalog's indexes aside; they are kept up to date", "err", err)
		return
	}
	s.deferred = true
	s.c.log.Debug("indexes set aside until the scan ends", "indexes", n, "added", added)
}

// buildIndexes builds the indexes set aside: this scan's own, or those of a
// scan that died, when no other scan on the host may still be adding rows
// with them set aside. It runs however the scan ended, so that queries are
// fast again, one transaction per index, so that the write lock is let go
// between them. The scan's rows are committed whatever happens here: a
// failure is a warning, and a later scan builds what is left.
func (s *scanRun) buildIndexes(ctx context.Context, host string) {
	var names []string
	err := s.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		var err error
		if names, err = r.Indexes.Deferred(ctx); err != nil || len(names) == 0 || s.deferred {
			return err
		}
		running, err := r.Scans.RunningOn(ctx, host)
		if err != nil {
			return err
		}
		for id, owner := range running {
			if id != s.rep.ID && s.scanAlive(id, owner) {
				names = nil // it may be adding rows with them set aside: its job
			}
		}
		return nil
	})
	if err == nil && len(names) > 0 {
		start := time.Now()
		for i, name := range names {
			status := fmt.Sprintf("building catalog index %s (%d of %d)", name, i+1, len(names))
			s.opts.Progress.dir.Store(&status)
			if err = s.uow.Do(ctx, "scan.build_index", func(ctx context.Context, r *uow.Repos) error {
				return r.Indexes.Build(ctx, name)
			}); err != nil {
				break
			}
		}
		if err == nil {
			s.deferred = false
			s.c.log.Info("built the catalog's indexes", "indexes", names, "took", time.Since(start).Round(time.Millisecond))
		}
	}
	if err != nil {
		s.c.log.Warn("could not build the catalog's indexes; queries are slower until a later scan builds them", "err", err)
	}
}
