package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/indexer/indexer/internal/bytesize"
	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/numfmt"
	"github.com/indexer/indexer/internal/uow"
)

// Health inspects the catalog at path without creating it. It never returns an
// error: every failure is a failing check in the report.
func Health(ctx context.Context, path string, opts db.Options, full bool) dto.Health {
	h := dto.Health{Status: dto.StatusOK, Path: db.Redact(path), Facts: map[string]any{}}
	opts.MustExist = true
	opts.OnlyReads = true
	d, err := db.Open(ctx, path, opts)
	if err != nil {
		detail := err.Error()
		if errors.Is(err, db.ErrNotExist) {
			detail = fmt.Sprintf("no catalog at %s; run `indexer scan PATH` (or pass --db) to create one", path)
		}
		h.Add("open", dto.StatusFail, detail)
		return h
	}
	defer d.Close()
	h.Path = d.Path()
	if d.ReadOnly() {
		h.Add("open", dto.StatusOK, "opened "+d.Path()+" read-only: its file system is read-only")
	} else {
		h.Add("open", dto.StatusOK, "opened "+d.Path())
	}
	c := New(d, nil)

	if v, err := d.Version(ctx); err != nil {
		h.Add("schema", dto.StatusFail, err.Error())
	} else {
		h.Facts["schema_version"] = v
		h.Add("schema", dto.StatusOK, fmt.Sprintf("version %d (this binary writes %d)", v, db.LatestVersion()))
	}

	if d.Dialect().Shared {
		serverChecks(ctx, &h, d)
	} else {
		checkPrivacy(&h, d.Path())
		fileChecks(ctx, &h, d, full)
	}

	if lat, err := d.Ping(ctx); err != nil {
		h.Add("latency", dto.StatusFail, err.Error())
	} else {
		h.Facts["select1_ms"] = ms(lat)
		st := dto.StatusOK
		if lat > 250*time.Millisecond {
			st = dto.StatusDegraded
		}
		h.Add("latency", st, fmt.Sprintf("SELECT 1 took %.3f ms", ms(lat)))
	}

	s := d.Stats()
	h.Facts["pools"] = map[string]any{
		"write": map[string]any{"open": s.Write.OpenConnections, "in_use": s.Write.InUse, "idle": s.Write.Idle, "max_open": s.Write.MaxOpenConnections, "wait_count": s.Write.WaitCount, "wait_ms": ms(s.Write.WaitDuration)},
		"read":  map[string]any{"open": s.Read.OpenConnections, "in_use": s.Read.InUse, "idle": s.Read.Idle, "max_open": s.Read.MaxOpenConnections, "wait_count": s.Read.WaitCount, "wait_ms": ms(s.Read.WaitDuration)},
	}
	h.Add("pools", dto.StatusOK, fmt.Sprintf("write %d/%d open, read %d/%d open", s.Write.OpenConnections, s.Write.MaxOpenConnections, s.Read.OpenConnections, s.Read.MaxOpenConnections))

	var last []dto.Scan
	var deferred []string
	err = c.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		var err error
		if deferred, err = r.Indexes.Deferred(ctx); err != nil {
			return err
		}
		counts, err := r.Files.Counts(ctx)
		if err != nil {
			return err
		}
		hashes := counts.Hashes
		h.Facts["files"], h.Facts["deleted"], h.Facts["machines"], h.Facts["hashes"], h.Facts["bytes"] = counts.Files, counts.Deleted, counts.Machines, hashes, counts.Bytes
		h.Facts["archive_entries"] = counts.Entries
		h.Add("counts", dto.StatusOK, fmt.Sprintf("%s and %s (%s deleted kept), %s, %s",
			numfmt.Plural(counts.Files-counts.Entries, "file"), numfmt.Plural(counts.Entries, "archive entry"), numfmt.Thousands(counts.Deleted),
			numfmt.Plural(hashes, "distinct content"), numfmt.Plural(counts.Machines, "machine")))
		last, err = r.Scans.Recent(ctx, 1)
		return err
	})
	if err != nil {
		h.Add("counts", dto.StatusFail, err.Error())
	} else if len(deferred) > 0 {
		h.Facts["deferred_indexes"] = deferred
		h.Add("indexes", dto.StatusDegraded, fmt.Sprintf("%s (%s) set aside by a scan that is adding many files or was killed; queries are correct but slower until a scan ends with no other scan running and builds them",
			numfmt.Plural(int64(len(deferred)), "index"), strings.Join(deferred, ", ")))
	} else {
		h.Add("indexes", dto.StatusOK, "all built")
	}
	switch {
	case err != nil:
	case len(last) == 0:
		h.Add("last_scan", dto.StatusOK, "no scan yet")
	default:
		sc := last[0]
		h.Facts["last_scan"] = sc
		st := dto.StatusOK
		if sc.Status != dto.ScanComplete {
			st = dto.StatusDegraded
		}
		detail := fmt.Sprintf("#%d on %s at %s: %s, %s", sc.ID, sc.Machine, sc.Started.UTC().Format(time.RFC3339), sc.Status, numfmt.Plural(sc.FilesSeen, "file")+" seen")
		if sc.TxMetrics != nil {
			detail += "; transactions: " + summarizeMetrics(*sc.TxMetrics)
		}
		h.Add("last_scan", st, detail)
	}

	if v, err := c.VerifySummary(ctx); err != nil {
		h.Add("verification", dto.StatusFail, err.Error())
	} else {
		h.Facts["verification"] = v
		h.Add(verificationCheck(v))
	}

	if !d.Dialect().Shared {
		dbSize, walSize := d.FileSizes()
		h.Facts["db_bytes"], h.Facts["wal_bytes"] = dbSize, walSize
		h.Add("size", dto.StatusOK, fmt.Sprintf("database %s, WAL %s", bytesize.Format(dbSize), bytesize.Format(walSize)))
	}
	return h
}

// fileChecks adds what only a catalog file has: its journal mode, SQLite's
// check of its pages, and its foreign keys, which SQLite lets a program
// switch off.
func fileChecks(ctx context.Context, h *dto.Health, d *db.DB, full bool) {
	if mode, err := d.JournalMode(ctx); err != nil {
		h.Add("journal_mode", dto.StatusFail, err.Error())
	} else if mode != "wal" {
		h.Add("journal_mode", dto.StatusDegraded, mode+", want wal")
	} else {
		h.Add("journal_mode", dto.StatusOK, mode)
	}

	name := "quick_check"
	if full {
		name = "integrity_check"
	}
	if problems, err := d.Check(ctx, full); err != nil {
		h.Add(name, dto.StatusFail, err.Error())
	} else if len(problems) > 0 {
		h.Add(name, dto.StatusFail, fmt.Sprintf("%s, first: %s", numfmt.Plural(int64(len(problems)), "problem"), problems[0]))
	} else {
		h.Add(name, dto.StatusOK, "ok")
	}

	if n, err := d.ForeignKeyViolations(ctx); err != nil {
		h.Add("foreign_keys", dto.StatusFail, err.Error())
	} else if n > 0 {
		h.Add("foreign_keys", dto.StatusFail, numfmt.Plural(int64(n), "row")+" breaking a foreign key")
	} else {
		h.Add("foreign_keys", dto.StatusOK, "no violations")
	}

}

// serverChecks adds the figures of a shared catalog's PostgreSQL server in
// place of fileChecks: the server keeps its own pages, enforces foreign keys
// always, and has no journal mode or file permissions of the catalog's.
func serverChecks(ctx context.Context, h *dto.Health, d *db.DB) {
	s, err := d.ServerInfo(ctx)
	if err != nil {
		h.Add("server", dto.StatusFail, err.Error())
		return
	}
	h.Facts["server_version"], h.Facts["db_bytes"] = s.Version, s.DatabaseBytes
	h.Facts["connections"], h.Facts["max_connections"] = s.Connections, s.MaxConnections
	st := dto.StatusOK
	if s.Connections*10 >= s.MaxConnections*9 {
		st = dto.StatusDegraded
	}
	h.Add("server", st, fmt.Sprintf("PostgreSQL %s; %d of %d connections open to this database; database %d bytes",
		s.Version, s.Connections, s.MaxConnections, s.DatabaseBytes))
	h.Facts["name_trigrams"] = s.NameTrigrams
	if s.NameTrigrams {
		h.Add("name_index", dto.StatusOK, "trigram index on file names present")
	} else {
		h.Add("name_index", dto.StatusDegraded, "no trigram index on file names (the catalog's role could not create the extension pg_trgm): name searches read every name; as an administrator, run in the catalog's database: CREATE EXTENSION pg_trgm; "+db.NameTrigramStatement)
	}
}

func summarizeMetrics(m dto.TxMetrics) string {
	var parts []string
	for op, v := range m.Ops {
		var fails int64
		for _, n := range v.Failures {
			fails += n
		}
		parts = append(parts, fmt.Sprintf("%s %s (failed %s, busy retries %s, slowest %.1f ms)", op, numfmt.Thousands(v.Count), numfmt.Thousands(fails), numfmt.Thousands(v.BusyRetries), v.SlowestMS))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// checkPrivacy warns (degraded) when other users can read the catalog at path
// or list its directory: the catalog names every file it has seen. It records
// both modes as facts.
func checkPrivacy(h *dto.Health, path string) {
	var exposed, fixes []string
	for _, p := range []struct{ what, path, fact, fix string }{
		{"the catalog", path, "catalog_mode", "chmod 600"},
		{"its directory", filepath.Dir(path), "directory_mode", "chmod 700"},
	} {
		fi, err := os.Stat(p.path)
		if err != nil {
			h.Add("permissions", dto.StatusFail, fmt.Sprintf("cannot read the permissions of %s: %v", p.path, err))
			return
		}
		mode := fi.Mode().Perm()
		h.Facts[p.fact] = fmt.Sprintf("%04o", mode)
		if mode&0o044 != 0 {
			exposed = append(exposed, fmt.Sprintf("%s %s (mode %04o)", p.what, p.path, mode))
			fixes = append(fixes, p.fix+" "+p.path)
		}
	}
	if len(exposed) > 0 {
		h.Add("permissions", dto.StatusDegraded, fmt.Sprintf("%s can be read by other users, and the catalog names every file it has seen; run %s",
			strings.Join(exposed, " and "), strings.Join(fixes, " and ")))
		return
	}
	h.Add("permissions", dto.StatusOK, "only the owner can read the catalog and list its directory")
}
