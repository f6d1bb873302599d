package service

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/uow"
)

// TestSummaryEqualsTheRows proves that stats and dupes answer from the
// summary tables exactly what they answer from the rows, and that
// content_totals holds the totals of contents, folded or not: after random
// scans of real trees (duplicates, hard links, empty files, extensions in
// both cases, archive entries, modified and deleted files), forgets, a merge
// and, on SQLite, a scan that set the indexes and the summary aside, each
// answer is compared with the same one read from the rows (the summary
// marked stale, as while a scan has it set aside).
func TestSummaryEqualsTheRows(t *testing.T) {
	ctx := context.Background()
	c := openTestCatalog(t)
	rng := rand.New(rand.NewPCG(19, 11))
	base := t.TempDir()
	roots := map[string]string{"m1": filepath.Join(base, "m1"), "m2": filepath.Join(base, "m2")}
	pool := make([][]byte, 12)
	for i := range pool {
		pool[i] = randomBytes(uint64(i), rng.IntN(3)*1000+i) // 0 bytes for the first
	}
	exts := []string{".jpg", ".JPG", ".txt", ".tar.gz", "", ".profile", ".Ünï", ".d\xffx"}
	var live []string // files written, some removed since
	mutate := func(root string, n int) {
		for range n {
			switch k := rng.IntN(10); {
			case k < 6 || len(live) == 0:
				p := filepath.Join(root, fmt.Sprintf("d%d", rng.IntN(4)), fmt.Sprintf("f%d%s", rng.IntN(1000), exts[rng.IntN(len(exts))]))
				if filepath.Base(p) == "f.profile" {
					p = filepath.Join(filepath.Dir(p), ".profile")
				}
				writeFile(t, p, pool[rng.IntN(len(pool))])
				live = append(live, p)
			case k < 7:
				old := live[rng.IntN(len(live))]
				link := old + fmt.Sprintf(".link%d", rng.IntN(100))
				if os.Link(old, link) == nil {
					live = append(live, link)
				}
			case k < 8:
				os.Remove(live[rng.IntN(len(live))])
			case k < 9:
				// Modified: another content, maybe another size.
				p := live[rng.IntN(len(live))]
				if _, err := os.Stat(p); err == nil {
					writeFile(t, p, pool[rng.IntN(len(pool))])
				}
			default:
				entries := map[string][]byte{}
				for i := range 1 + rng.IntN(3) {
					entries[fmt.Sprintf("in%d%s", i, exts[rng.IntN(len(exts))])] = pool[rng.IntN(len(pool))]
				}
				p := filepath.Join(root, fmt.Sprintf("a%d.zip", rng.IntN(5)))
				writeFile(t, p, zipBytes(t, entries))
				live = append(live, p)
			}
		}
	}
	seen := struct{ groups, linked, deleted, entries, exts int64 }{}
	check := func(step string) {
		t.Helper()
		if ok := summaryCurrent(t, c); !ok {
			t.Fatalf("%s: the summary is not current", step)
		}
		checkContentTotals(t, c, step)
		fromSummary := queryAnswers(t, c)
		markSummaryStale(t, c, true)
		fromRows := queryAnswers(t, c)
		markSummaryStale(t, c, false)
		if a, b := fromSummary.stats, fromRows.stats; !reflect.DeepEqual(a, b) {
			a.Scans, b.Scans = nil, nil
			t.Fatalf("%s: stats from the summary\n%+v\nfrom the rows\n%+v", step, a, b)
		}
		for i, a := range fromSummary.dupes {
			b := fromRows.dupes[i]
			if a.totals != b.totals || len(a.groups) != len(b.groups) {
				t.Fatalf("%s: dupes %s: from the summary %d groups, %+v; from the rows %d groups, %+v",
					step, a.opts, len(a.groups), a.totals, len(b.groups), b.totals)
			}
			for j := range a.groups {
				if !reflect.DeepEqual(a.groups[j], b.groups[j]) {
					t.Fatalf("%s: dupes %s: group %d from the summary\n%+v\nfrom the rows\n%+v", step, a.opts, j, a.groups[j], b.groups[j])
				}
			}
		}
		st := fromRows.stats
		seen.groups = max(seen.groups, st.DuplicateGroups)
		seen.deleted = max(seen.deleted, st.Deleted)
		seen.entries = max(seen.entries, st.ArchiveEntries)
		seen.exts = max(seen.exts, int64(len(st.Extensions)))
		for _, g := range fromRows.dupes[0].groups {
			for _, f := range g.Files {
				if f.Linked {
					seen.linked++
				}
			}
		}
	}
	scan := func(machine string) {
		t.Helper()
		outOfRacyWindow()
		rep := mustScan(t, c, []string{roots[machine]}, ScanOptions{Machine: machine, Workers: 2, Archives: true})
		if rep.Status != dto.ScanComplete {
			t.Fatalf("scan %s: %+v", machine, rep)
		}
	}
	for round := range 5 {
		for _, m := range []string{"m1", "m2"} {
			mutate(roots[m], 40)
			scan(m)
			check(fmt.Sprintf("round %d, scan of %s", round, m))
		}
		if round == 2 {
			if _, err := c.ForgetUnder(ctx, "m2", []string{filepath.Join(roots["m2"], "d1")}); err != nil {
				t.Fatal(err)
			}
			check("forget under")
			// On PostgreSQL the forget's transaction left a row of its
			// own beside slot 0; a fold adds it into slot 0.
			if slots := checkContentTotals(t, c, "forget under"); c.DB().Dialect().Shared && slots < 2 {
				t.Fatalf("forget under: content_totals in %d rows, want slot 0 and the forget's", slots)
			}
			foldContentTotals(t, c)
			if slots := checkContentTotals(t, c, "forget under, folded"); slots != 1 {
				t.Fatalf("forget under, folded: content_totals in %d rows, want slot 0 alone", slots)
			}
			check("forget under, folded")
		}
		if round == 3 {
			if _, err := c.ForgetDeleted(ctx, time.Now()); err != nil {
				t.Fatal(err)
			}
			check("forget deleted")
		}
	}

	// A merge of another catalog's machine m3, which shares contents.
	srcPath := filepath.Join(t.TempDir(), "src.db")
	src := openCatalogAt(t, srcPath)
	m3 := filepath.Join(base, "m3")
	mutate(m3, 60)
	outOfRacyWindow()
	mustScan(t, src, []string{m3}, ScanOptions{Machine: "m3", Workers: 2, Archives: true})
	src.Close()
	ms, err := OpenMergeSource(ctx, c.DB().Path(), srcPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Merge(ctx, ms, MergeOptions{}); err != nil {
		t.Fatal(err)
	}
	ms.Close()
	check("merge")

	if !c.DB().Dialect().Shared {
		// A scan that adds many files sets the indexes and the summary
		// aside, and rebuilds the summary at its end.
		withDeferAfter(t, 10)
		roots["m4"] = filepath.Join(base, "m4")
		mutate(roots["m4"], 800)
		// A content no other file holds, under two names of one inode:
		// files 2, extra 1, no group. The rebuild counts hard links from
		// the contents held by two files or more.
		only := filepath.Join(roots["m4"], "linked", "only")
		writeFile(t, only, []byte("held once, under two names"))
		if err := os.Link(only, only+".link"); err != nil {
			t.Fatal(err)
		}
		outOfRacyWindow()
		rep := mustScan(t, c, []string{roots["m4"]}, ScanOptions{Machine: "m4", Workers: 2, Archives: true})
		if ops := getScan(t, c, rep.ID).TxMetrics.Ops; rep.Status != dto.ScanComplete || ops["scan.defer_indexes"].Count != 1 {
			t.Fatalf("scan m4: %s, %d files added; want a complete scan that set the summary aside", rep.Status, rep.Counts.Added)
		}
		check("a scan that set the summary aside")
	}

	if seen.groups < 5 || seen.linked == 0 || seen.deleted == 0 || seen.entries == 0 || seen.exts < 6 {
		t.Fatalf("the fixture proves little: %+v", seen)
	}
}

// summaryAnswers are the answers compared by TestSummaryEqualsTheRows.
type summaryAnswers struct {
	stats dto.Stats
	dupes []dupesAnswer
}

type dupesAnswer struct {
	opts   string
	groups []dto.DupeGroup
	totals dto.DupeTotals
}

func queryAnswers(t *testing.T, c *Catalog) summaryAnswers {
	t.Helper()
	var a summaryAnswers
	var err error
	if a.stats, err = c.Stats(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
	maxSize := int64(1500)
	for _, o := range []DupesOptions{{}, {MinSize: 1}, {MinSize: 1500}, {MaxSize: &maxSize}, {Limit: 2}} {
		d := dupesAnswer{opts: fmt.Sprintf("%+v", o)}
		d.totals, err = c.Dupes(context.Background(), o, func(g dto.DupeGroup) error {
			d.groups = append(d.groups, g)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		a.dupes = append(a.dupes, d)
	}
	return a
}

// markSummaryStale marks the summary stale (or current again), as a scan
// that set it aside does, so that the queries read the rows.
func markSummaryStale(t *testing.T, c *Catalog, stale bool) {
	t.Helper()
	q := "DELETE FROM deferred_indexes WHERE name = 'summary'"
	if stale {
		q = "INSERT INTO deferred_indexes (name, sql) VALUES ('summary', 'SELECT 1')"
	}
	err := c.DB().WithWrite(func(w *sqlx.DB) error {
		_, err := w.ExecContext(context.Background(), q)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkContentTotals fails t unless the rows of content_totals sum to the
// totals of contents computed afresh, and returns how many rows it has.
func checkContentTotals(t *testing.T, c *Catalog, step string) int {
	t.Helper()
	type totals struct {
		Contents    int64 `db:"contents"`
		Groups      int64 `db:"dupe_groups"`
		Files       int64 `db:"dupe_files"`
		Reclaimable int64 `db:"reclaimable"`
		Mixed       int64 `db:"mixed"`
	}
	var kept, fresh totals
	var slots int
	err := c.DB().WithRead(func(r *sqlx.DB) error {
		ctx := context.Background()
		if err := r.GetContext(ctx, &kept, `SELECT COALESCE(SUM(contents), 0) AS contents, COALESCE(SUM(dupe_groups), 0) AS dupe_groups,
			COALESCE(SUM(dupe_files), 0) AS dupe_files, COALESCE(SUM(reclaimable), 0) AS reclaimable,
			COALESCE(SUM(mixed), 0) AS mixed FROM content_totals`); err != nil {
			return err
		}
		if err := r.GetContext(ctx, &slots, "SELECT COUNT(*) FROM content_totals"); err != nil {
			return err
		}
		return r.GetContext(ctx, &fresh, `SELECT COUNT(*) AS contents,
			COALESCE(SUM(CASE WHEN files - extra >= 2 AND size >= 1 THEN 1 ELSE 0 END), 0) AS dupe_groups,
			COALESCE(SUM(CASE WHEN files - extra >= 2 AND size >= 1 THEN files ELSE 0 END), 0) AS dupe_files,
			COALESCE(SUM(CASE WHEN files - extra >= 2 AND size >= 1 THEN (files - extra - 1) * size ELSE 0 END), 0) AS reclaimable,
			COALESCE(SUM(CASE WHEN sized <> files + entries THEN 1 ELSE 0 END), 0) AS mixed
			FROM contents`)
	})
	if err != nil {
		t.Fatal(err)
	}
	if kept != fresh {
		t.Fatalf("%s: content_totals (%d rows) sum to %+v, the contents to %+v", step, slots, kept, fresh)
	}
	return slots
}

// foldContentTotals folds content_totals, as the end of a scan does.
func foldContentTotals(t *testing.T, c *Catalog) {
	t.Helper()
	err := c.UoW().Do(context.Background(), "fold", func(ctx context.Context, r *uow.Repos) error {
		return r.Files.FoldContentTotals(ctx)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func summaryCurrent(t *testing.T, c *Catalog) bool {
	t.Helper()
	var ok bool
	err := c.DB().WithRead(func(r *sqlx.DB) error {
		var err error
		ok, err = db.SummaryCurrent(context.Background(), r)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// zipBytes returns a zip archive holding files (inner path → content).
func zipBytes(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for n, data := range files {
		f, err := w.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
