package service_test

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/catalogtest"
	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dbtest"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/service"
	"github.com/indexer/indexer/internal/uow"
)

// benchFiles is the size of the benchmark catalog.
const benchFiles = 1_000_000

var big struct {
	once sync.Once
	dir  string // removed by TestMain; "" when INDEXER_BENCH_DB names the file
	c    *service.Catalog
	err  error
}

func TestMain(m *testing.M) {
	code := dbtest.Main(m,
		// Run again on PostgreSQL: the tests whose catalogs come from
		// openTestCatalog or catalogtest. Left out: those of SQLite's own
		// behaviour (indexes set aside, a restore swapping the file).
		"TestDirsAcrossMachines", "TestDirsArchive", "TestDirsEmptyFileAndEmptyDir", "TestDirsHardLinks",
		"TestDirsIdenticalTreesNestedOnce", "TestDirsIncompleteNeverMatch", "TestDirsIncrementalMatchesFresh",
		"TestDirsMultiplicity", "TestDirsRenamedAndSwapped", "TestDirsSubset", "TestDirsForgetLeavesNoStaleDigests", "TestDirsMergeLeavesNoStaleDigests",
		"TestDirsMergeNewDirectoryIncomplete", "TestDirsImportLeavesNoStaleDigests",
		"TestDupesEqualGroupsOfContents", "TestDupesPageTimes",
		"TestDupesExcludeDeleted", "TestDupesHardLinksAreOneCopy", "TestDupesLimit",
		"TestDupesOneFileUnderTwoPaths", "TestDirsTopComputedAfterItsChildren", "TestDupesStopsOnCallbackError", "TestSummaryEqualsTheRows", "TestFindBadQuery",
		"TestFindFiltersCombine", "TestFindLeavesOutArchiveEntriesByDefault",
		"TestFindNamePrefilterKeepsEveryMatch", "TestFollowedFileSymlinkBelowSymlinkedRoot",
		"TestFollowedFileSymlinkIsNotACopy", "TestLookup", "TestLookupDeletedIsNotFound", "TestLookupSelfAndStale",
		"TestScanCancel", "TestScanChunkFallback", "TestScanEntryReplacedBeforeRead",
		"TestScanFileAddedByAnotherScan", "TestScanFileChangingWhileRead", "TestScanFollowTwoLinksToOneDirectory",
		"TestScanHashesMatchStdlib", "TestScanHostileEntries", "TestScanKeepsRowsBelowSkippedSymlinks",
		"TestScanKeepsWhatItCannotSee", "TestScanMachinesAreSeparate", "TestScanMarksDeadScansInterrupted",
		"TestScanNamedPathsAreWalked", "TestScanOddNames", "TestScanRacilyClean",
		"TestScanRecordsEveryTimeExactly", "TestScanRescan", "TestScanRoots", "TestScanSharedContent",
		"TestScanSymlinkRoot", "TestScanVanishedBeforeRead", "TestStatsEqualWhatTheFilesSay", "TestStatsScans",
		"TestScanIndexesTheEntriesOfEveryFormat", "TestScanArchiveIncremental", "TestScanArchivesOffKeepsOrDropsEntries",
		"TestScanNestedArchiveDepth", "TestScanStopsAZipBombAndGoesOn", "TestScanTruncatedArchive",
		"TestScanEncryptedIsASkip", "TestScanEntryNamesAreOnlyText", "TestScanDuplicateEntryNames",
		"TestVolumeMovesBetweenMounts", "TestScanChunksSideBySide", "TestDirsReadInBatchesAsOneByOne", "TestReadOwnFilesBounded",
	)
	if big.c != nil {
		big.c.Close()
	}
	if big.dir != "" {
		os.RemoveAll(big.dir)
	}
	os.Exit(code)
}

// bigCatalog returns the 1,000,000-file catalog, built once per run in a
// temporary directory. With INDEXER_BENCH_DB=path it is kept at path and
// reused by later runs (and by the built binary, for RSS measurements).
func bigCatalog(b *testing.B) *service.Catalog {
	big.once.Do(func() {
		path := os.Getenv("INDEXER_BENCH_DB")
		if path == "" {
			big.dir, big.err = os.MkdirTemp("", "indexer-bench-")
			if big.err != nil {
				return
			}
			path = filepath.Join(big.dir, "index.db")
		}
		_, statErr := os.Stat(path)
		big.c, big.err = service.Open(context.Background(), path, db.DefaultOptions(), nil)
		if big.err != nil || statErr == nil {
			return
		}
		start := time.Now()
		var g catalogtest.Generated
		g, big.err = catalogtest.Generate(context.Background(), big.c, catalogtest.Spec{Files: benchFiles, Seed: 1})
		b.Logf("built a %d-file catalog (%d contents, %d deleted, %d archive entries, %d hard links) in %s: %.0f files/s",
			g.Files, g.Contents, g.Deleted, g.Archived, g.HardLinks, time.Since(start).Round(time.Millisecond),
			float64(g.Files)/time.Since(start).Seconds())
	})
	if big.err != nil {
		b.Fatal(big.err)
	}
	return big.c
}

// BenchmarkQueries1M times the queries on a 1,000,000-file catalog. It runs
// only with -bench; the catalog takes a while to build the first time.
func BenchmarkQueries1M(b *testing.B) {
	c := bigCatalog(b)
	ctx := context.Background()
	b.Run("dupes-json", func(b *testing.B) {
		var t dto.DupeTotals
		var buf []byte
		for b.Loop() {
			var err error
			// As dupes --json writes them.
			t, err = c.Dupes(ctx, service.DupesOptions{MinSize: 1}, func(g dto.DupeGroup) error {
				buf = g.AppendJSON(buf[:0])
				_, err := io.Discard.Write(buf)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(t.Groups), "groups")
	})
	// The web page's listing: one page of 20 groups, with and without the
	// files' times, which only the page's rows are read for.
	for _, times := range []bool{false, true} {
		b.Run(fmt.Sprintf("dupes-page-times=%v", times), func(b *testing.B) {
			q := service.DupesQuery{DupesOptions: service.DupesOptions{MinSize: 1}, Offset: 100, Limit: 20, Times: times}
			for b.Loop() {
				if _, err := c.DupesPage(ctx, q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	find := func(name string, o service.FindOptions) {
		b.Run(name, func(b *testing.B) {
			n := 0
			for b.Loop() {
				var err error
				n, err = c.Find(ctx, o, func(dto.FileWithHash) error { return nil })
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n), "hits")
		})
	}
	find("find-name-substring", service.FindOptions{Name: "*invoice_12*", MaxSize: -1})
	find("find-name-glob", service.FindOptions{Name: "*-IMG_00?0.JP*G", MaxSize: -1})
	find("find-name-glob-i", service.FindOptions{Name: "*-img_00?0.jp*g", Fold: true, MaxSize: -1})
	find("find-path-substring", service.FindOptions{Terms: []string{"Music/2011"}, MaxSize: -1, Limit: 100})
	// The generator's content 12345: digests of its number, little-endian.
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], 12345)
	sum := sha1.Sum(n[:])
	find("find-hash", service.FindOptions{Hash: hex.EncodeToString(sum[:]), MaxSize: -1})
	b.Run("stats", func(b *testing.B) {
		for b.Loop() {
			if _, err := c.Stats(ctx, 5); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkWrites times chunked upserts: one transaction of 200 new files
// (with their contents' digests) per iteration, through uow.Do, as a scan's
// writer commits them, into a catalog that already holds 200,000 files.
//
// "live" keeps every index up to date, as a scan that adds few files does.
// "deferred" first sets the secondary indexes aside, as a scan that adds
// many does (see deferIndexesAfter), and builds them after the loop: its
// files/s counts the commits alone, files/s-with-build adds the build, which
// covers the whole catalog, to their time.
func BenchmarkWrites(b *testing.B) {
	for _, deferred := range []bool{false, true} {
		name := "live"
		if deferred {
			name = "deferred"
		}
		b.Run(name, func(b *testing.B) { benchWrites(b, deferred) })
	}
}

func benchWrites(b *testing.B, deferred bool) {
	c := catalogtest.MustOpen(b)
	ctx := context.Background()
	start := time.Now()
	if _, err := catalogtest.Generate(ctx, c, catalogtest.Spec{Files: 200_000, Seed: 2}); err != nil {
		b.Fatal(err)
	}
	b.Logf("generated 200,000 files in %s", time.Since(start).Round(time.Millisecond))
	if deferred {
		err := c.UoW().Do(ctx, "defer", func(ctx context.Context, r *uow.Repos) error {
			_, err := r.Indexes.Defer(ctx)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	const chunk = 200
	next := 0
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		files := make([]dto.FileWithHash, chunk)
		for i := range files {
			n := next + i
			files[i] = dto.FileWithHash{Hash: digestsOf(n), FileMeta: dto.FileMeta{Machine: "bench",
				Path: "/bench/dir" + itoa(n/50) + "/file" + itoa(n), Name: "file" + itoa(n),
				Size: int64(n), Modified: time.Unix(1700000000, 0), Scanned: time.Now(), Operation: dto.OpAdd,
				Validators: dto.Validators{Size: int64(n), MtimeNS: 1700000000, Inode: uint64(n), Device: 1, Nlink: 1}}}
		}
		next += chunk
		err := c.UoW().Do(ctx, "write", func(ctx context.Context, r *uow.Repos) error {
			_, err := r.Files.InsertMany(ctx, files) // new files, as a scan writes them
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	elapsed, cpu := b.Elapsed(), cpuTime()-cpu0
	b.ReportMetric(float64(next)/elapsed.Seconds(), "files/s")
	// The machine may be shared: files per CPU-second of this process tells
	// what the catalog costs, whatever else runs.
	b.ReportMetric(float64(next)/cpu.Seconds(), "files/cpu-s")
	if deferred {
		start := time.Now()
		var names []string
		err := c.UoW().Read(ctx, func(ctx context.Context, r *uow.Repos) error {
			var err error
			names, err = r.Indexes.Deferred(ctx)
			return err
		})
		for _, name := range names {
			if err == nil {
				err = c.UoW().Do(ctx, "build", func(ctx context.Context, r *uow.Repos) error { return r.Indexes.Build(ctx, name) })
			}
		}
		if err != nil {
			b.Fatal(err)
		}
		build := time.Since(start)
		b.ReportMetric(float64(next)/(elapsed+build).Seconds(), "files/s-with-build")
		b.ReportMetric(build.Seconds(), "build-s")
	}
}

// cpuTime is the user and system time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func itoa(n int) string { return strconv.Itoa(n) }

// digestsOf returns real digests of n, so that index inserts land where real
// ones do: all over the index.
func digestsOf(n int) dto.FileHash {
	b := []byte("bench" + strconv.Itoa(n))
	m, s1, s2 := md5.Sum(b), sha1.Sum(b), sha256.Sum256(b)
	return dto.FileHash{Size: int64(n), MD5: hex.EncodeToString(m[:]), SHA1: hex.EncodeToString(s1[:]), SHA256: hex.EncodeToString(s2[:])}
}
