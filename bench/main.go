// Command bench measures indexer against the peer tools on generated corpora,
// in one run, and prints medians and ratios. Run it from the repository root:
//
//	go run ./bench                 # full size: 100,000 small files, 24 large
//	go run ./bench -small 20000 -large 6 -runs 3
//	go run ./bench -archives 400 -entries 100   # the archive case's size
//	go run ./bench -cold            # also cold first scans (as root: drops the page cache)
//	go run ./bench -tiny 1000000 -tiny-dir /tmp/scale-corpus -rows 10000000
//	go run ./bench -pg-only -pg postgres://postgres@127.0.0.1:5432/postgres -pg-rows 10000000
//
// The tiny case (-tiny files of 0–4 KiB, 1,000 to a directory) is generated
// once under -tiny-dir and reused; -rows adds a generated catalog of that
// many rows (internal/catalogtest) that the tiny tree is then scanned into,
// for the rescan's memory against a large catalog. -tiny 0 skips the case.
// Its catalog also times dupes --dirs on a million scanned files.
//
// The duplicate directories case (bench/dirs.go; -dirs=false skips it,
// -dirs-only runs it alone) times dupes --dirs on a scanned catalog against
// rmlint -D, and checks both tools' groups against the trees themselves.
//
// It installs rhash, hashdeep and jdupes with apt-get when they are missing
// (as root), builds indexer, generates the corpora in a temporary directory,
// warms the page cache, and times each case. Ratios are indexer / peer: below
// 1 means indexer is faster.
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/indexer/indexer/bench/corpus"
	"github.com/indexer/indexer/internal/catalogtest"
	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/service"
)

var (
	flagSmall = flag.Int("small", 100000, "files in the small corpus")
	flagLarge = flag.Int("large", 24, "files in the large corpus")
	flagRuns  = flag.Int("runs", 3, "runs per case; the median is reported")
	flagDir   = flag.String("dir", "", "work directory (default: a new temporary one)")
	flagKeep  = flag.Bool("keep", false, "keep the work directory")
	flagArcs  = flag.Int("archives", 200, "zip and tar.gz files in the archive corpus (0: no archive case)")
	flagEnts  = flag.Int("entries", 100, "entries in each archive")
	flagCold  = flag.Bool("cold", false, "also time first scans with the page cache dropped before each run (needs root)")
	flagTiny  = flag.Int("tiny", 1000000, "files in the tiny-files corpus (0: no tiny case)")
	flagTDir  = flag.String("tiny-dir", "", "where the tiny corpus (and -rows catalog) is generated once and kept (default: the work directory)")
	flagRows  = flag.Int("rows", 0, "rows of a generated catalog to rescan the tiny corpus against (0: none)")
)

type run struct {
	wall time.Duration
	cpu  time.Duration // user + system time: on a shared machine, steadier than wall
	rss  int64         // peak resident set, bytes
	out  []byte
}

type row struct {
	name   string
	ours   run
	peer   string
	theirs *run
	ratio  float64 // ours/peer; 0 when not applicable
	target string
	ok     *bool
	note   string
}

func main() {
	flag.Parse()
	if err := mainErr(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func mainErr() error {
	work := *flagDir
	if work == "" {
		var err error
		if work, err = os.MkdirTemp("", "indexer-bench-"); err != nil {
			return err
		}
	}
	if !*flagKeep {
		defer os.RemoveAll(work)
	}
	logf("work directory %s", work)
	peers := ensurePeers("rhash", "hashdeep", "jdupes")
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		install("time")
	}
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		return errors.New("/usr/bin/time (Debian package time) is needed to measure peak RSS")
	}

	bin := filepath.Join(work, "indexer")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return fmt.Errorf("build indexer: %v: %s", err, out)
	}

	if *flagPGOnly {
		if *flagPG == "" {
			return errors.New("-pg-only needs -pg URL")
		}
		rows, err := benchPostgres(bin, work)
		if err != nil {
			return err
		}
		printTable(rows)
		return nil
	}
	if *flagDirsOnly {
		rows, err := benchDirs(bin, work)
		if err != nil {
			return err
		}
		printTable(rows)
		return nil
	}

	small, large := filepath.Join(work, "small"), filepath.Join(work, "large")
	logf("generating %d small files", *flagSmall)
	ss, err := genOnce(small, corpus.Small(*flagSmall))
	if err != nil {
		return err
	}
	logf("generating %d large files", *flagLarge)
	ls, err := genOnce(large, corpus.Large(*flagLarge))
	if err != nil {
		return err
	}
	logf("warming the page cache")
	for _, d := range []string{small, large} {
		if err := warm(d); err != nil {
			return err
		}
	}

	cold := *flagCold
	if cold {
		if err := dropCaches(); err != nil {
			logf("cold figures left out: %v", err)
			cold = false
		}
	}

	var rows []row
	db := filepath.Join(work, "catalog", "index.db")
	scan := func(root string, fresh bool) func() []string {
		return func() []string {
			if fresh {
				removeCatalog(db)
			}
			return []string{bin, "--db", db, "scan", "--quiet", "--json", root}
		}
	}
	hashLimit, md5Impl, err := hashrate(bin)
	if err != nil {
		return err
	}

	for _, c := range []struct {
		name  string
		root  string
		st    corpus.Stats
		rhash float64
		hd    float64
	}{
		{fmt.Sprintf("first scan small (%d files, %s)", ss.Files, mb(ss.Bytes)), small, ss, 0.5, 0.3},
		{fmt.Sprintf("first scan large (%d files, %s)", ls.Files, mb(ls.Bytes)), large, ls, 0.55, 0},
	} {
		ours, err := median(scan(c.root, true))
		if err != nil {
			return err
		}
		if peers["rhash"] {
			theirs, err := median(func() []string { return []string{"rhash", "--md5", "--sha1", "--sha256", "-r", c.root} })
			if err != nil {
				return err
			}
			rows = append(rows, compare(c.name, ours, "rhash", theirs, c.rhash))
		}
		if peers["hashdeep"] {
			theirs, err := median(func() []string { return []string{"hashdeep", "-c", "md5,sha1,sha256", "-r", c.root} })
			if err != nil {
				return err
			}
			rows = append(rows, compare(c.name, ours, "hashdeep", theirs, c.hd))
		}
		tput := float64(c.st.Bytes) / ours.wall.Seconds()
		frac := tput / hashLimit
		r := row{name: c.name + ": throughput / hashing limit", ours: ours, ratio: frac,
			note: fmt.Sprintf("%.0f MB/s of %.0f MB/s in memory, md5 by %s", tput/1e6, hashLimit/1e6, md5Impl)}
		if c.root == large {
			r.target = "≥ 0.85"
			r.ok = ptr(frac >= 0.85)
		}
		rows = append(rows, r)
		if c.root == small {
			r := row{name: "peak RSS, first scan small", ours: ours, target: "< 150 MB", ok: ptr(ours.rss < 150e6),
				note: mb(ours.rss)}
			rows = append(rows, r)
		}
		if cold {
			coldRows, err := benchCold(c.name, scan(c.root, true), c.root, ours, c.root == small, peers["rhash"])
			if err != nil {
				return err
			}
			rows = append(rows, coldRows...)
		}
	}
	if cold {
		logf("warming the page cache again")
		for _, d := range []string{small, large} {
			if err := warm(d); err != nil {
				return err
			}
		}
	}

	// Leave the catalog of the small corpus in place for the rescans.
	first, err := median(scan(small, true))
	if err != nil {
		return err
	}
	find, err := median(func() []string { return []string{"find", small, "-type", "f", "-printf", "%s %T@ %i\n"} })
	if err != nil {
		return err
	}
	again, err := median(scan(small, false))
	if err != nil {
		return err
	}
	rows = append(rows, compare("rescan small, nothing changed", again, "find -printf (stat only)", find, 2))
	rows = append(rows, compare("rescan small, nothing changed", again, "first scan", first, 0.1))

	seed := uint64(0)
	changed, err := median(func() []string {
		seed++
		if _, err := corpus.Change(small, seed); err != nil {
			panic(err)
		}
		return []string{bin, "--db", db, "scan", "--quiet", "--json", small}
	})
	if err != nil {
		return err
	}
	rows = append(rows, compare("rescan small after change (1% modified, 0.5% deleted)", changed, "first scan", first, 0.15))

	if *flagArcs > 0 {
		// A catalog of its own: the small corpus's stays for dupes.
		arcRows, err := benchArchives(bin, work, filepath.Join(work, "catalog-archives", "index.db"))
		if err != nil {
			return err
		}
		rows = append(rows, arcRows...)
	}

	dupes, err := median(func() []string { return []string{bin, "--db", db, "dupes", "--format", "fdupes"} })
	if err != nil {
		return err
	}
	if peers["jdupes"] {
		jd, err := median(func() []string { return []string{"jdupes", "-r", "-q", small} })
		if err != nil {
			return err
		}
		r := compare("dupes on the catalog", dupes, "jdupes -r", jd, 1.0/20)
		same, detail := sameGroups(dupes.out, jd.out)
		r.note = detail
		if !same {
			r.ok = ptr(false)
		}
		rows = append(rows, r)
		// The target names the JSON output: the same groups with
		// sizes, counts and every file's machine.
		js, err := median(func() []string { return []string{bin, "--db", db, "dupes", "--json"} })
		if err != nil {
			return err
		}
		rows = append(rows, compare("dupes --json on the catalog", js, "jdupes -r", jd, 1.0/20))
	}

	if *flagDirs {
		dirRows, err := benchDirs(bin, work)
		if err != nil {
			return err
		}
		rows = append(rows, dirRows...)
	}

	if *flagTiny > 0 {
		tinyRows, err := benchTiny(bin, work, peers["rhash"])
		if err != nil {
			return err
		}
		rows = append(rows, tinyRows...)
	}

	if *flagPG != "" {
		pgRows, err := benchPostgres(bin, work)
		if err != nil {
			return err
		}
		rows = append(rows, pgRows...)
	}

	fmt.Printf("CPU: %s, %d cores; md5 by %s; in-memory hashing limit %.0f MB/s\n", cpuName(), runtime.NumCPU(), md5Impl, hashLimit/1e6)
	printTable(rows)
	return nil
}

// cpuName is the model name /proc/cpuinfo gives, so that a table of results
// names the machine it came from.
func cpuName() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// benchTiny times the million-tiny-files case: a first scan against rhash,
// an unchanged rescan against a find stat walk with its peak RSS, and, with
// -rows, the same rescan in a catalog of that many more rows.
func benchTiny(bin, work string, rhash bool) ([]row, error) {
	base := cmp.Or(*flagTDir, work)
	dir := filepath.Join(base, "tiny")
	st, err := genKept(dir, corpus.Tiny(*flagTiny))
	if err != nil {
		return nil, err
	}
	if err := warm(dir); err != nil {
		return nil, err
	}
	name := fmt.Sprintf("tiny (%d files, %s)", st.Files, mb(st.Bytes))
	db := filepath.Join(work, "catalog-tiny", "index.db")
	scan := func(db string, fresh bool) func() []string {
		return func() []string {
			if fresh {
				removeCatalog(db)
			}
			return []string{bin, "--db", db, "scan", "--quiet", "--json", dir}
		}
	}
	var rows []row
	first, err := median(scan(db, true))
	if err != nil {
		return nil, err
	}
	if rhash {
		theirs, err := median(func() []string { return []string{"rhash", "--md5", "--sha1", "--sha256", "-r", dir} })
		if err != nil {
			return nil, err
		}
		rows = append(rows, compare("first scan "+name, first, "rhash", theirs, 1))
	}
	find, err := median(func() []string { return []string{"find", dir, "-type", "f", "-printf", "%s %T@ %i\n"} })
	if err != nil {
		return nil, err
	}
	again, err := median(scan(db, false))
	if err != nil {
		return nil, err
	}
	rows = append(rows, compare("rescan "+name+", nothing changed", again, "find -printf (stat only)", find, 2),
		row{name: "peak RSS, rescan " + name, ours: again, target: "< 150 MB", ok: ptr(again.rss < 150e6), note: mb(again.rss)})
	// The directory digests of a million files, kept by the scans: a query.
	dirs, err := median(func() []string { return []string{bin, "--db", db, "dupes", "--dirs", "--json"} })
	if err != nil {
		return nil, err
	}
	rows = append(rows, row{name: "dupes --dirs, catalog of " + name, ours: dirs, note: mb(dirs.rss)})
	if *flagRows == 0 {
		return rows, nil
	}
	big := filepath.Join(base, fmt.Sprintf("catalog-%d", *flagRows), "index.db")
	if err := genCatalog(big, *flagRows); err != nil {
		return nil, err
	}
	// The tiny tree's rows join the generated ones once; the rescans then
	// find them unchanged.
	if _, err := timeCmd(scan(big, false)()); err != nil {
		return nil, err
	}
	bigAgain, err := median(scan(big, false))
	if err != nil {
		return nil, err
	}
	label := fmt.Sprintf("rescan %s in a catalog of %d more rows", name, *flagRows)
	rows = append(rows, compare(label, bigAgain, "the same rescan alone", again, 0),
		row{name: "peak RSS, " + label, ours: bigAgain, target: "< 150 MB", ok: ptr(bigAgain.rss < 150e6), note: mb(bigAgain.rss)})
	for _, q := range [][]string{{"dupes", "--json"}, {"stats"}, {"find", "--name", "IMG_0042.JPG"}} {
		r, err := median(func() []string { return append([]string{bin, "--db", big}, q...) })
		if err != nil {
			return nil, err
		}
		rows = append(rows, row{name: fmt.Sprintf("%s on %d rows", strings.Join(q, " "), *flagRows+st.Files), ours: r, note: mb(r.rss)})
	}
	return rows, nil
}

// genKept generates a corpus under dir unless a complete one is there from
// an earlier run (marked by a file written once generation ended).
func genKept(dir string, spec corpus.Spec) (corpus.Stats, error) {
	done := dir + ".done"
	if b, err := os.ReadFile(done); err == nil {
		var st corpus.Stats
		if err := json.Unmarshal(b, &st); err == nil && st.Files == spec.Files {
			logf("reusing %s", dir)
			return st, nil
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return corpus.Stats{}, err
	}
	logf("generating %d files under %s", spec.Files, dir)
	st, err := corpus.Generate(dir, spec)
	if err != nil {
		return st, err
	}
	b, err := json.Marshal(st)
	if err != nil {
		return st, err
	}
	return st, os.WriteFile(done, b, 0o644)
}

// genCatalog writes a catalog of rows generated rows at path, once.
func genCatalog(path string, rows int) error {
	done := path + ".done"
	if _, err := os.Stat(done); err == nil {
		logf("reusing %s", path)
		return nil
	}
	removeCatalog(path)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	logf("generating a catalog of %d rows at %s", rows, path)
	if err := generateRows(path, rows); err != nil {
		return err
	}
	return os.WriteFile(done, nil, 0o644)
}

// benchArchives times a first scan of a tree of zip and tar.gz files with
// their entries indexed, against the same scan with --no-archives, and an
// unchanged rescan, which must not open the archives again.
func benchArchives(bin, work, db string) ([]row, error) {
	dir := filepath.Join(work, "archives")
	logf("generating %d archives of %d entries", *flagArcs, *flagEnts)
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	st, err := corpus.Archives(dir, *flagArcs, *flagEnts, 3)
	if err != nil {
		return nil, err
	}
	if err := warm(dir); err != nil {
		return nil, err
	}
	scan := func(fresh bool, extra ...string) func() []string {
		return func() []string {
			if fresh {
				removeCatalog(db)
			}
			return append(append([]string{bin, "--db", db, "scan", "--quiet", "--json"}, extra...), dir)
		}
	}
	off, err := median(scan(true, "--no-archives"))
	if err != nil {
		return nil, err
	}
	on, err := median(scan(true))
	if err != nil {
		return nil, err
	}
	again, err := median(scan(false))
	if err != nil {
		return nil, err
	}
	var rescan struct {
		BytesHashed int64 `json:"bytes_hashed"`
		Added       int64 `json:"added"`
	}
	if err := json.Unmarshal(again.out, &rescan); err != nil {
		return nil, fmt.Errorf("rescan output: %w", err)
	}
	name := fmt.Sprintf("first scan archives (%d zip/tar.gz, %s; %d entries, %s inside)",
		st.Archives, mb(st.ArchiveBytes), st.Entries, mb(st.EntryBytes))
	read := float64(st.ArchiveBytes + st.EntryBytes)
	return []row{
		{name: name + ": throughput", ours: on,
			note: fmt.Sprintf("%.0f MB/s (archives + entries), %.0f entries/s", read/on.wall.Seconds()/1e6, float64(st.Entries)/on.wall.Seconds())},
		compare(name, on, "same, --no-archives", off, 0),
		func() row {
			r := compare("rescan archives, nothing changed", again, "first scan with entries", on, 0.1)
			r.note = fmt.Sprintf("%d bytes read again", rescan.BytesHashed)
			if rescan.BytesHashed != 0 {
				r.ok = ptr(false)
			}
			return r
		}(),
	}, nil
}

// benchCold times the first scan argv gives with the page cache dropped
// before each run, beside a parallel cat and a parallel rhash of the same
// tree, also cold, and beside the warm scan. The targets apply to the
// small files, whose cold scan is bound by the reads in flight: at most
// 1.3 times the time of 16 cats at once, and ahead of 8 rhash at once.
func benchCold(name string, argv func() []string, root string, warmRun run, small, rhash bool) ([]row, error) {
	cold := func(argv func() []string) func() []string {
		return func() []string {
			if err := dropCaches(); err != nil {
				panic(err) // it worked before the runs began
			}
			return argv()
		}
	}
	shell := func(cmd string) func() []string {
		return func() []string { return []string{"sh", "-c", cmd, "sh", root} }
	}
	ours, err := median(cold(argv))
	if err != nil {
		return nil, err
	}
	cat, err := median(cold(shell(`find "$1" -type f -print0 | xargs -0 -P 16 cat >/dev/null`)))
	if err != nil {
		return nil, err
	}
	name = "cold " + name
	rows := []row{compare(name, ours, "same scan, warm", warmRun, 0), compare(name, ours, "find | xargs -0 -P 16 cat", cat, 0)}
	if small {
		rows[1].target, rows[1].ok = "≤ 1.30", ptr(rows[1].ratio <= 1.3)
	}
	if rhash {
		rh, err := median(cold(shell(`find "$1" -type f -print0 | xargs -0 -P 8 rhash --md5 --sha1 --sha256 >/dev/null`)))
		if err != nil {
			return nil, err
		}
		r := compare(name, ours, "find | xargs -0 -P 8 rhash", rh, 0)
		if small {
			r.target, r.ok = "≤ 1.00", ptr(r.ratio <= 1)
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// dropCaches writes back dirty pages and drops the page cache, dentries and
// inodes, so that the next run reads from the disk. Only root may.
func dropCaches() error {
	if os.Geteuid() != 0 {
		return errors.New("cannot drop the page cache: the bench does not run as root")
	}
	if err := exec.Command("sync").Run(); err != nil {
		return fmt.Errorf("cannot drop the page cache: sync: %w", err)
	}
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0); err != nil {
		return fmt.Errorf("cannot drop the page cache (in a container /proc/sys is often read-only): %w", err)
	}
	return nil
}

func compare(name string, ours run, peer string, theirs run, target float64) row {
	r := row{name: name, ours: ours, peer: peer, theirs: &theirs, ratio: ours.wall.Seconds() / theirs.wall.Seconds()}
	if target > 0 {
		r.target = fmt.Sprintf("≤ %.2f", target)
		r.ok = ptr(r.ratio <= target)
	}
	return r
}

func printTable(rows []row) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "case\tindexer\tcpu\tpeak RSS\tpeer\tpeer time\tpeer cpu\tpeer RSS\tratio\tcpu ratio\ttarget\tmet\tnote")
	for _, r := range rows {
		peerTime, peerCPU, peerRSS, cpuRatio := "", "", "", ""
		if r.theirs != nil {
			peerTime, peerCPU, peerRSS = secs(r.theirs.wall), secs(r.theirs.cpu), mb(r.theirs.rss)
			if r.theirs.cpu > 0 {
				cpuRatio = fmt.Sprintf("%.3f", r.ours.cpu.Seconds()/r.theirs.cpu.Seconds())
			}
		}
		ratio := ""
		if r.ratio > 0 {
			ratio = fmt.Sprintf("%.3f", r.ratio)
		}
		met := ""
		if r.ok != nil {
			met = map[bool]string{true: "yes", false: "NO"}[*r.ok]
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.name, secs(r.ours.wall), secs(r.ours.cpu), mb(r.ours.rss),
			r.peer, peerTime, peerCPU, peerRSS, ratio, cpuRatio, r.target, met, r.note)
	}
	w.Flush()
}

// median runs the command argv() returns *flagRuns times and returns the run
// with the median wall time. argv is called before each run, so it may reset
// state (remove a catalog, change files).
func median(argv func() []string) (run, error) {
	var runs []run
	for range *flagRuns {
		args := argv()
		r, err := timeCmd(args)
		if err != nil {
			return run{}, err
		}
		runs = append(runs, r)
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].wall < runs[j].wall })
	return runs[len(runs)/2], nil
}

// timeCmd runs args under /usr/bin/time for the peak RSS. The rusage Go gets
// for a child is no good for that: a child forked from this process starts
// with this process's high-water mark, which survives exec.
func timeCmd(args []string) (run, error) {
	rssFile, err := os.CreateTemp("", "bench-rss-")
	if err != nil {
		return run{}, err
	}
	rssFile.Close()
	defer os.Remove(rssFile.Name())
	full := append([]string{"/usr/bin/time", "-f", "%M %U %S", "-o", rssFile.Name()}, args...)
	cmd := exec.Command(full[0], full[1:]...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	var ee *exec.ExitError
	// hashdeep exits non-zero by design; the others must succeed (indexer
	// scan exits 3 only when files fail, which the generated corpora never do).
	if err != nil && !(errors.As(err, &ee) && args[0] == "hashdeep") {
		return run{}, fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, lastLine(errb.String()))
	}
	r := run{wall: wall, out: out.Bytes()}
	if b, err := os.ReadFile(rssFile.Name()); err == nil {
		var kb int64
		var user, sys float64
		if _, err := fmt.Sscan(lastLine(string(b)), &kb, &user, &sys); err == nil {
			r.rss = kb * 1024
			r.cpu = time.Duration((user + sys) * float64(time.Second))
		}
	}
	logf("%-60s %s (cpu %s, %s)", strings.Join(shorten(args), " "), secs(wall), secs(r.cpu), mb(r.rss))
	return r, nil
}

// hashrate returns the best of three one-second measurements: a ceiling is
// what the machine can do, and on a shared machine noise only lowers it.
func hashrate(bin string) (float64, string, error) {
	best, impl := 0.0, ""
	for range 3 {
		out, err := exec.Command(bin, "hashrate", "--seconds", "1", "--json").Output()
		if err != nil {
			return 0, "", fmt.Errorf("indexer hashrate: %w", err)
		}
		var v struct {
			BPS float64 `json:"bytes_per_second"`
			MD5 string  `json:"md5"`
		}
		if err := json.Unmarshal(out, &v); err != nil {
			return 0, "", err
		}
		best = max(best, v.BPS)
		impl = v.MD5
	}
	logf("hashing limit in memory: %.0f MB/s, md5 by %s", best/1e6, impl)
	return best, impl, nil
}

// sameGroups compares two fdupes-style outputs (groups of paths separated by
// blank lines) as sets of groups.
func sameGroups(a, b []byte) (bool, string) {
	ga, gb := parseGroups(a), parseGroups(b)
	if len(ga) != len(gb) {
		return false, fmt.Sprintf("groups differ: %d vs %d", len(ga), len(gb))
	}
	for k := range ga {
		if !gb[k] {
			return false, "groups differ: " + strings.SplitN(k, "\n", 2)[0]
		}
	}
	return true, fmt.Sprintf("same %d groups", len(ga))
}

func parseGroups(b []byte) map[string]bool {
	out := map[string]bool{}
	var cur []string
	flush := func() {
		if len(cur) > 1 {
			sort.Strings(cur)
			out[strings.Join(cur, "\n")] = true
		}
		cur = nil
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if line := sc.Text(); line == "" {
			flush()
		} else {
			cur = append(cur, line)
		}
	}
	flush()
	return out
}

func genOnce(dir string, spec corpus.Spec) (corpus.Stats, error) {
	if err := os.RemoveAll(dir); err != nil {
		return corpus.Stats{}, err
	}
	return corpus.Generate(dir, spec)
}

func warm(dir string) error {
	buf := make([]byte, 1<<20)
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.CopyBuffer(io.Discard, f, buf)
		return err
	})
}

func removeCatalog(db string) {
	for _, suffix := range []string{"", "-wal", "-shm", ".lock"} {
		os.Remove(db + suffix)
	}
}

// ensurePeers installs missing peer tools with apt-get when running as root,
// and reports which are available.
func ensurePeers(names ...string) map[string]bool {
	have := map[string]bool{}
	var missing []string
	for _, n := range names {
		if _, err := exec.LookPath(n); err == nil {
			have[n] = true
		} else {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		install(missing...)
		for _, n := range missing {
			if _, err := exec.LookPath(n); err == nil {
				have[n] = true
			}
		}
	}
	for _, n := range names {
		if !have[n] {
			logf("%s is not available: its comparisons are left out", n)
		}
	}
	return have
}

func shorten(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = filepath.Base(a)
		if !strings.Contains(a, "/") {
			out[i] = a
		}
	}
	return out
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func secs(d time.Duration) string { return fmt.Sprintf("%.3fs", d.Seconds()) }

func mb(n int64) string { return fmt.Sprintf("%.0f MB", float64(n)/1e6) }

func ptr[T any](v T) *T { return &v }

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", a...)
}

// install installs Debian packages with apt-get when running as root.
func install(pkgs ...string) {
	if os.Geteuid() != 0 {
		return
	}
	logf("installing %s", strings.Join(pkgs, " "))
	args := append([]string{"install", "-y", "-qq"}, pkgs...)
	if exec.Command("apt-get", args...).Run() != nil {
		_ = exec.Command("apt-get", "update", "-qq").Run()
		_ = exec.Command("apt-get", args...).Run()
	}
}

// generateRows fills the catalog at path (a file or a PostgreSQL URL) with
// rows generated files (catalogtest, seed 10), the same on both engines.
func generateRows(path string, rows int) error {
	ctx := context.Background()
	c, err := service.Open(ctx, path, db.DefaultOptions(), nil)
	if err != nil {
		return err
	}
	if _, err := catalogtest.Generate(ctx, c, catalogtest.Spec{Files: rows, Seed: 10}); err != nil {
		c.Close()
		return err
	}
	return c.Close()
}
