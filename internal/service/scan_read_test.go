package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/indexer/indexer/internal/dto"
)

// readerModes are the ways the readers run: as chosen for the test's disk,
// one reader, many, and in inode order as on a rotational disk.
var readerModes = []struct {
	name       string
	readers    int
	rotational bool
}{
	{"default", 0, false},
	{"one reader", 1, false},
	{"many readers", 16, false},
	{"rotational", 0, true},
}

func withRotational(t *testing.T, rot bool) {
	t.Helper()
	old := rotationalRoots
	rotationalRoots = func([]string) bool { return rot }
	t.Cleanup(func() { rotationalRoots = old })
}

// TestScanReadersHashesMatch hashes files of every buffer class and around
// the whole-read limit, and many same-size files of different content (a
// reused buffer must not leak one file's bytes into another's digest).
func TestScanReadersHashesMatch(t *testing.T) {
	dir := t.TempDir()
	content := map[string][]byte{}
	sizes := []int{0, 1, 4095, 4096, 4097, 65536, 65537, 300_000, wholeReadMax - 1, wholeReadMax, wholeReadMax + 1, 3<<20 + 5}
	for i := range 300 {
		sizes = append(sizes, 1+i%7*1000) // same sizes, different bytes
	}
	for i, n := range sizes {
		p := filepath.Join(dir, fmt.Sprintf("d%d", i%5), fmt.Sprintf("f%03d", i))
		content[p] = randomBytes(uint64(i), n)
		writeFile(t, p, content[p])
	}
	var total int64
	for _, b := range content {
		total += int64(len(b))
	}
	for _, m := range readerModes {
		t.Run(m.name, func(t *testing.T) {
			withRotational(t, m.rotational)
			c := openTestCatalog(t)
			rep := mustScan(t, c, []string{dir}, ScanOptions{Readers: m.readers})
			if rep.Status != dto.ScanComplete || rep.Counts.Added != int64(len(sizes)) || rep.Counts.BytesHashed != total {
				t.Fatalf("report %s %+v, want complete, %d added, %d bytes", rep.Status, rep.Counts, len(sizes), total)
			}
			rows := dumpFiles(t, c)
			for p, b := range content {
				assertHashed(t, rows, p, b)
			}
		})
	}
}

// TestScanReaderFileChanging: a small file that changes while a reader reads
// it is read again; if it changes again it is reported, never stored with a
// digest of mixed content. A file that grows past the whole-read limit
// while read is streamed for its second read, and still read twice at most.
func TestScanReaderFileChanging(t *testing.T) {
	grow := func(t *testing.T, p string) func() {
		return func() {
			f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Error(err)
				return
			}
			f.Write([]byte("more"))
			f.Close()
		}
	}
	cases := []struct {
		name     string
		size     int
		attempts int // reads during which the file changes
		stored   bool
	}{
		{"small, changes once, retried", 10_000, 1, true},
		{"small, keeps changing, reported", 10_000, 2, false},
		{"grows past the limit once, streamed", wholeReadMax - 2, 1, true},
		{"grows past the limit and again, reported", wholeReadMax - 2, 2, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "moving.bin")
			writeFile(t, p, randomBytes(3, tc.size))
			c := openTestCatalog(t)
			reads := 0
			testHookReader = func(path string, r io.Reader) io.Reader {
				if path != p {
					return r
				}
				reads++
				if reads > tc.attempts {
					return r
				}
				return &changingReader{r: r, change: grow(t, p)}
			}
			t.Cleanup(func() { testHookReader = nil })
			rep := mustScan(t, c, []string{dir}, ScanOptions{Workers: 1, Readers: 1})
			if reads > 2 {
				t.Fatalf("read %d times, want 2 at most", reads)
			}
			final, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			rows := dumpFiles(t, c)
			if tc.stored {
				if rep.Status != dto.ScanComplete {
					t.Fatalf("status %s, failures %v: want complete after one retry", rep.Status, rep.Failures)
				}
				assertHashed(t, rows, p, final)
				return
			}
			if rep.Status != dto.ScanPartial || len(rep.Failures) != 1 || !errors.Is(rep.Failures[0].Err, ErrChanged) {
				t.Fatalf("status %s, failures %v: want partial with %v", rep.Status, rep.Failures, ErrChanged)
			}
			if _, ok := rows[p]; ok {
				t.Fatal("a file that kept changing has a row")
			}
		})
	}
}

// TestScanReaderErrorsPerFile: files that vanish or stop being regular
// files before the readers open them are one failure each; the others
// around them are stored.
func TestScanReaderErrorsPerFile(t *testing.T) {
	for _, m := range readerModes {
		t.Run(m.name, func(t *testing.T) {
			withRotational(t, m.rotational)
			dir := t.TempDir()
			content := map[string][]byte{}
			for i := range 60 {
				p := filepath.Join(dir, fmt.Sprintf("f%02d", i))
				content[p] = randomBytes(uint64(i), 100+i*50)
				writeFile(t, p, content[p])
			}
			gone := map[string]bool{}
			fifo := map[string]bool{}
			for i := 3; i < 58; i += 7 {
				gone[filepath.Join(dir, fmt.Sprintf("f%02d", i))] = true
				fifo[filepath.Join(dir, fmt.Sprintf("f%02d", i+1))] = true
			}
			testHookBeforeHash = func(path string) {
				switch {
				case gone[path]:
					if err := os.Remove(path); err != nil {
						t.Error(err)
					}
				case fifo[path]:
					if err := os.Remove(path); err != nil {
						t.Error(err)
					}
					if err := syscall.Mkfifo(path, 0o644); err != nil {
						t.Error(err)
					}
				}
			}
			t.Cleanup(func() { testHookBeforeHash = nil })
			c := openTestCatalog(t)
			rep := mustScan(t, c, []string{dir}, ScanOptions{Readers: m.readers})
			want := int64(len(gone) + len(fifo))
			if rep.Status != dto.ScanPartial || rep.Counts.Failed != want || rep.Counts.Added != 60-want {
				t.Fatalf("report %s %+v, want partial with %d failed, %d added", rep.Status, rep.Counts, want, 60-want)
			}
			for _, f := range rep.Failures {
				switch {
				case gone[f.Path] && errors.Is(f.Err, syscall.ENOENT):
				case fifo[f.Path] && errors.Is(f.Err, ErrNotRegular):
				default:
					t.Errorf("unexpected failure %s: %v", f.Path, f.Err)
				}
			}
			rows := dumpFiles(t, c)
			for p, b := range content {
				if !gone[p] && !fifo[p] {
					assertHashed(t, rows, p, b)
				}
			}
		})
	}
}

// TestReadAheadCancelDrains: once the context is done, the readers stop,
// their channel is closed, and the group returns the cancellation, even with
// reads waiting for hash workers that no longer take them.
func TestReadAheadCancelDrains(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for i := range 400 {
		p := filepath.Join(dir, fmt.Sprintf("f%03d", i))
		writeFile(t, p, randomBytes(uint64(i), 2000+i))
		paths = append(paths, p)
	}
	for _, m := range readerModes {
		t.Run(m.name, func(t *testing.T) {
			withRotational(t, m.rotational)
			c := openTestCatalog(t)
			s := &scanRun{c: c, opts: ScanOptions{Readers: m.readers, Workers: 1, Progress: &ScanProgress{}},
				rep: ScanReport{Roots: []string{dir}}}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			g, gctx := errgroup.WithContext(ctx)
			jobs := make(chan job)
			g.Go(func() error {
				defer close(jobs)
				for _, p := range paths {
					st, err := os.Stat(p)
					if err != nil {
						return err
					}
					j := job{path: p}
					j.st.Size = st.Size()
					select {
					case jobs <- j:
					case <-gctx.Done():
						return gctx.Err()
					}
				}
				return nil
			})
			read := s.readAhead(g, gctx, jobs)
			for range 10 {
				j := <-read
				if j.read == nil || j.read.err != nil || j.read.n != int(j.st.Size) {
					t.Fatalf("%s: read %+v, want its %d bytes", j.path, j.read, j.st.Size)
				}
				j.read.release()
			}
			cancel()
			for j := range read { // must end: the readers close it
				if j.read != nil {
					j.read.release()
				}
			}
			if err := g.Wait(); !errors.Is(err, context.Canceled) {
				t.Fatalf("group: %v, want %v", err, context.Canceled)
			}
		})
	}
}

// TestInodeOrder: within its window, the order sends the lowest inode at or
// above the last one sent, and starts a new sweep once none is left above.
func TestInodeOrder(t *testing.T) {
	inodes := []uint64{5, 1, 4, 2, 6, 3}
	for _, tc := range []struct {
		window int
		want   []uint64
	}{
		{10, []uint64{1, 2, 3, 4, 5, 6}},
		{3, []uint64{1, 2, 4, 5, 6, 3}}, // 3 arrives after 4 was sent: next sweep
	} {
		in := make(chan job, len(inodes))
		for _, ino := range inodes {
			j := job{path: fmt.Sprint(ino)}
			j.st.Inode = ino
			in <- j
		}
		close(in)
		out := make(chan job)
		done := make(chan error, 1)
		go func() { done <- inodeOrder(context.Background(), in, out, tc.window); close(out) }()
		var sent []uint64
		for {
			// Take one job at a time, once the order has taken in what its
			// window holds, so that what it sends does not depend on timing.
			for len(in) > max(len(inodes)-tc.window-len(sent), 0) {
				time.Sleep(time.Millisecond)
			}
			j, ok := <-out
			if !ok {
				break
			}
			sent = append(sent, j.st.Inode)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(sent, tc.want) {
			t.Errorf("window %d: sent %v, want %v", tc.window, sent, tc.want)
		}
	}
}

// TestSysRotational reads queue/rotational from a device's directory, or
// its disk's for a partition; takes paravirtual and network disks as not
// rotational whatever they say, and a stacked device as rotational if a
// device under it is.
func TestSysRotational(t *testing.T) {
	root := t.TempDir()
	disk := func(path, rot string) string {
		d := filepath.Join(root, path)
		writeFile(t, filepath.Join(d, "queue", "rotational"), []byte(rot+"\n"))
		return d
	}
	hdd := disk("devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda", "1")
	ssd := disk("devices/pci0000:00/0000:00:1d.0/nvme/nvme0/nvme0n1", "0")
	virtio := disk("devices/pci0000:00/0000:00:02.0/virtio1/block/vda", "1")
	hyperv := disk("devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0004:00/VMBUS:00/f8b3781b-1e82-4818-a1c3-63d806ec15bb/host0/target0:0:0/0:0:0:0/block/sdb", "1")
	nbd := disk("devices/virtual/block/nbd0", "1")
	part := filepath.Join(hdd, "sda1")
	if err := os.MkdirAll(part, 0o755); err != nil {
		t.Fatal(err)
	}
	// Stacked devices name the devices under them by symlinks in slaves/.
	stacked := func(name string, under ...string) string {
		d := disk("devices/virtual/block/"+name, "1")
		for _, u := range under {
			if err := os.MkdirAll(filepath.Join(d, "slaves"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(u, filepath.Join(d, "slaves", filepath.Base(u))); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	lvmOnVirtio := stacked("dm-0", virtio)
	lvmOnPartition := stacked("dm-1", part)
	raidMixed := stacked("md0", ssd, hdd)
	raidFlash := stacked("md1", ssd, virtio)
	for _, tc := range []struct {
		dir  string
		want bool
	}{
		{hdd, true}, {part, true}, {ssd, false}, {virtio, false}, {hyperv, false}, {nbd, false},
		{lvmOnVirtio, false}, {lvmOnPartition, true}, {raidMixed, true}, {raidFlash, false},
		{filepath.Join(root, "nothing"), false},
	} {
		if got := sysRotational(tc.dir, 0); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.dir, got, tc.want)
		}
	}
}

// TestWillNeedReadsIntoCache: a file dropped from the page cache is read
// back into it by willNeed, without anyone reading the file.
func TestWillNeedReadsIntoCache(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f.bin")
	const size = 256 << 10
	writeFile(t, p, randomBytes(1, size))
	evict(t, p)
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n := residentPages(t, f, size); n != 0 {
		t.Skipf("%d pages still cached after FADV_DONTNEED: this file system keeps them", n)
	}
	willNeed(p, false, size, false)
	want := size / os.Getpagesize()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		n := residentPages(t, f, size)
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d pages cached after willNeed", n, want)
		}
	}
}

// residentPages counts the pages of f's first size bytes in the page cache.
func residentPages(t *testing.T, f *os.File, size int) int {
	t.Helper()
	m, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	vec := make([]byte, (size+os.Getpagesize()-1)/os.Getpagesize())
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(size), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatal(e)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}
