// Command bench measures indexer against the peer tools on generated corpora,
// in one run, and prints medians and ratios. Run it from the repository root:
//
//	go run ./bench                 # full size: 100,000 small files, 24 large
//	go run ./bench -small 20000 -large 6 -runs 3
//	go run ./bench -archives 400 -entries 100   # the archive case's size
//	go run ./bench -cold            # also cold first scans (as root: drops the page cache)
//
// It installs rhash, hashdeep and jdupes with apt-get when they are missing
// (as root), builds indexer, generates the corpora in a temporary directory,
// warms the page cache, and times each case. Ratios are indexer / peer: below
// 1 means indexer is faster.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/indexer/indexer/bench/corpus"
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
)

type run struct {
	wall time.Duration
	rss  int64 // peak resident set, bytes
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
	hashLimit, err := hashrate(bin)
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
			note: fmt.Sprintf("%.0f MB/s of %.0f MB/s in memory", tput/1e6, hashLimit/1e6)}
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
	}

	printTable(rows)
	return nil
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
	fmt.Fprintln(w, "case\tindexer\tpeak RSS\tpeer\tpeer time\tpeer RSS\tratio\ttarget\tmet\tnote")
	for _, r := range rows {
		peerTime, peerRSS := "", ""
		if r.theirs != nil {
			peerTime, peerRSS = secs(r.theirs.wall), mb(r.theirs.rss)
		}
		ratio := ""
		if r.ratio > 0 {
			ratio = fmt.Sprintf("%.3f", r.ratio)
		}
		met := ""
		if r.ok != nil {
			met = map[bool]string{true: "yes", false: "NO"}[*r.ok]
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.name, secs(r.ours.wall), mb(r.ours.rss),
			r.peer, peerTime, peerRSS, ratio, r.target, met, r.note)
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
	full := append([]string{"/usr/bin/time", "-f", "%M", "-o", rssFile.Name()}, args...)
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
		if _, err := fmt.Sscan(lastLine(string(b)), &kb); err == nil {
			r.rss = kb * 1024
		}
	}
	logf("%-60s %s", strings.Join(shorten(args), " "), secs(wall))
	return r, nil
}

// hashrate returns the best of three one-second measurements: a ceiling is
// what the machine can do, and on a shared machine noise only lowers it.
func hashrate(bin string) (float64, error) {
	best := 0.0
	for range 3 {
		out, err := exec.Command(bin, "hashrate", "--seconds", "1", "--json").Output()
		if err != nil {
			return 0, fmt.Errorf("indexer hashrate: %w", err)
		}
		var v struct {
			BPS float64 `json:"bytes_per_second"`
		}
		if err := json.Unmarshal(out, &v); err != nil {
			return 0, err
		}
		best = max(best, v.BPS)
	}
	logf("hashing limit in memory: %.0f MB/s", best/1e6)
	return best, nil
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
