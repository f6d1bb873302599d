package main

// The PostgreSQL case (-pg URL, with -pg-only to run it alone) times a first
// scan of the small corpus into a shared catalog against the same scan into
// a SQLite file, and dupes --json, a name search and stats on a generated
// catalog of -pg-rows rows on each engine. URL names a database the role may
// create databases from (the server's postgres database, as a superuser):
// the case makes and drops databases of its own beside it, and keeps the
// generated one (indexer_bench_rows_N) for the next run. -pg-queries=false
// times the first scan alone.
//
// CPU times are indexer's alone: the server's processes do part of the work
// on PostgreSQL, and /usr/bin/time does not see them.

import (
	"database/sql"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/indexer/indexer/bench/corpus"
	"github.com/indexer/indexer/internal/db"
)

var (
	flagPG     = flag.String("pg", "", "PostgreSQL URL of a maintenance database: run the PostgreSQL case")
	flagPGOnly = flag.Bool("pg-only", false, "run the PostgreSQL case alone")
	flagPGRows = flag.Int("pg-rows", 1_000_000, "rows of the generated catalogs of the PostgreSQL case")
	flagPGPeer = flag.Bool("pg-peer", true, "also time the generated catalog's queries on SQLite (generating it once)")
	flagPGScan = flag.Bool("pg-scan", true, "time the first scan of the small corpus on both engines")
	flagPGQs   = flag.Bool("pg-queries", true, "time dupes, find and stats on the generated catalogs")
)

// benchPostgres runs the PostgreSQL case (see the top of this file).
func benchPostgres(bin, work string) ([]row, error) {
	var rows []row
	if *flagPGScan {
		r, err := benchPGScan(bin, work)
		if err != nil {
			return nil, err
		}
		rows = append(rows, r)
	}
	if !*flagPGQs {
		return rows, nil
	}
	r, err := benchPGQueries(bin, work)
	return append(rows, r...), err
}

// benchPGScan times a first scan of the small corpus into PostgreSQL and
// into SQLite.
func benchPGScan(bin, work string) (row, error) {
	small := filepath.Join(work, "small")
	ss, err := genOnce(small, corpus.Small(*flagSmall))
	if err != nil {
		return row{}, err
	}
	if err := warm(small); err != nil {
		return row{}, err
	}
	scanURL, err := pgDatabase(*flagPG, "indexer_bench_scan")
	if err != nil {
		return row{}, err
	}
	lite := filepath.Join(work, "catalog", "pg-peer.db")
	scan := func(location string, fresh func() error) func() []string {
		return func() []string {
			if err := fresh(); err != nil {
				logf("reset %s: %v", location, err)
			}
			return []string{bin, "--db", location, "scan", "--quiet", "--json", small}
		}
	}
	ours, theirs, err := medianPair(scan(scanURL, func() error { return pgRecreate(*flagPG, "indexer_bench_scan") }),
		scan(lite, func() error { removeCatalog(lite); return os.MkdirAll(filepath.Dir(lite), 0o755) }))
	if err != nil {
		return row{}, err
	}
	r := compare(fmt.Sprintf("first scan small into PostgreSQL (%d files, %s)", ss.Files, mb(ss.Bytes)),
		ours, "SQLite", theirs, 1.5)
	return r, pgDrop(*flagPG, "indexer_bench_scan")
}

// benchPGQueries times dupes --json, name searches and stats on a generated
// PostgreSQL catalog, and on the same catalog in SQLite with -pg-peer.
func benchPGQueries(bin, work string) ([]row, error) {
	var rows []row
	n := *flagPGRows
	name := fmt.Sprintf("indexer_bench_rows_%d", n)
	big, err := pgDatabase(*flagPG, name)
	if err != nil {
		return nil, err
	}
	if err := genPGCatalog(*flagPG, name, n); err != nil {
		return nil, err
	}
	peer := filepath.Join(*flagTDir, fmt.Sprintf("catalog-%d.db", n))
	if *flagTDir == "" {
		peer = filepath.Join(work, fmt.Sprintf("catalog-%d.db", n))
	}
	if *flagPGPeer {
		if err := genCatalog(peer, n); err != nil {
			return nil, err
		}
	}
	for _, c := range []struct {
		what   string
		args   []string
		target string
		ok     func(run) bool
	}{
		{"dupes --json", []string{"dupes", "--json"}, "< 250 MB RSS", func(r run) bool { return r.rss < 250e6 }},
		{"find --name '*invoice_777*'", []string{"find", "--name", "*invoice_777*", "--format", "paths", "--machine", "laptop"},
			"< 0.5 s", func(r run) bool { return r.wall.Seconds() < 0.5 }},
		{"find -i --name '*INVOICE_777*'", []string{"find", "-i", "--name", "*INVOICE_777*", "--format", "paths", "--machine", "laptop"},
			"< 0.5 s", func(r run) bool { return r.wall.Seconds() < 0.5 }},
		{"stats", []string{"stats"}, "< 1 s", func(r run) bool { return r.wall.Seconds() < 1 }},
	} {
		pg := func() []string { return append([]string{bin, "--db", big}, c.args...) }
		name := fmt.Sprintf("%s, %d rows, PostgreSQL", c.what, n)
		var r row
		if *flagPGPeer {
			ours, theirs, err := medianPair(pg, func() []string { return append([]string{bin, "--db", peer}, c.args...) })
			if err != nil {
				return nil, err
			}
			r = compare(name, ours, "SQLite", theirs, 0)
			r.note = fmt.Sprintf("%d bytes out (SQLite %d)", len(ours.out), len(theirs.out))
			if string(ours.out) != string(theirs.out) && c.what != "stats" {
				r.note += "; OUTPUTS DIFFER"
			}
		} else {
			ours, err := median(pg)
			if err != nil {
				return nil, err
			}
			r = row{name: name, ours: ours, note: fmt.Sprintf("%d bytes out", len(ours.out))}
		}
		r.target, r.ok = c.target, ptr(c.ok(r.ours))
		rows = append(rows, r)
	}
	return rows, nil
}

// medianPair runs the commands a() and b() return *flagRuns times each, in
// turns, so that a loaded machine's noise falls on both alike, and returns
// the runs of median wall time of each.
func medianPair(a, b func() []string) (run, run, error) {
	var as, bs []run
	for range *flagRuns {
		for _, p := range []struct {
			argv func() []string
			runs *[]run
		}{{a, &as}, {b, &bs}} {
			r, err := timeCmd(p.argv())
			if err != nil {
				return run{}, run{}, err
			}
			*p.runs = append(*p.runs, r)
		}
	}
	mid := func(rs []run) run {
		sort.Slice(rs, func(i, j int) bool { return rs[i].wall < rs[j].wall })
		return rs[len(rs)/2]
	}
	return mid(as), mid(bs), nil
}

// genPGCatalog writes a catalog of rows generated rows into the database
// name beside admin's, once: a database that exists is reused.
func genPGCatalog(admin, name string, rows int) error {
	x, err := sql.Open(db.PostgresDriverName, admin)
	if err != nil {
		return err
	}
	defer x.Close()
	var exists bool
	if err := x.QueryRow("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return err
	}
	if exists {
		logf("reusing database %s", name)
		return nil
	}
	// Made under another name and renamed once whole, so that a run
	// interrupted midway leaves nothing to reuse.
	tmp := name + "_partial"
	if err := pgRecreate(admin, tmp); err != nil {
		return err
	}
	u, err := pgDatabase(admin, tmp)
	if err != nil {
		return err
	}
	logf("generating a PostgreSQL catalog of %d rows in %s", rows, name)
	if err := generateRows(u, rows); err != nil {
		return err
	}
	_, err = x.Exec(fmt.Sprintf(`ALTER DATABASE %q RENAME TO %q`, tmp, name))
	return err
}

// pgDatabase returns admin with its database replaced by name.
func pgDatabase(admin, name string) (string, error) {
	u, err := url.Parse(admin)
	if err != nil {
		return "", fmt.Errorf("PostgreSQL URL: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// pgRecreate drops the database name beside admin's, if it exists, and
// makes it again, empty.
func pgRecreate(admin, name string) error {
	if err := pgDrop(admin, name); err != nil {
		return err
	}
	return pgExec(admin, fmt.Sprintf("CREATE DATABASE %q", name))
}

func pgDrop(admin, name string) error {
	return pgExec(admin, fmt.Sprintf("DROP DATABASE IF EXISTS %q WITH (FORCE)", name))
}

func pgExec(admin, stmt string) error {
	x, err := sql.Open(db.PostgresDriverName, admin)
	if err != nil {
		return err
	}
	defer x.Close()
	if _, err := x.Exec(stmt); err != nil {
		return fmt.Errorf("%s: %w", strings.Fields(stmt)[0], err)
	}
	return nil
}
