package digest

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"github.com/klauspost/cpuid/v2"
)

// engines are the md5 implementations this CPU can run: crypto/md5 always,
// md5-simd where there is AVX2 at least (8 lanes; 16 with AVX-512), whether
// or not New would choose it, so that both are checked here.
func engines(t testing.TB) []*md5Engine {
	es := []*md5Engine{stdEngine()}
	if cpuid.CPU.Supports(cpuid.AVX2) {
		es = append(es, simdEngine())
	} else {
		t.Logf("no AVX2: md5-simd not checked on this CPU")
	}
	return es
}

// md5Sizes are the lengths where md5 padding and md5-simd's chunking change
// course: the 56-byte length boundary, 64-byte blocks, md5-simd's 32 KiB
// internal blocks, the 128 KiB read buffer, and beyond a MiB.
var md5Sizes = []int{
	0, 1, 2, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000,
	32<<10 - 1, 32 << 10, 32<<10 + 1, 32<<10 + 56, 64<<10 - 1, 64 << 10, 64<<10 + 1,
	BufSize - 1, BufSize, BufSize + 1, 1<<20 - 1, 1 << 20, 1<<20 + 1, 3<<20 + 17,
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func TestMD5MatchesStdlib(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	sizes := append([]int(nil), md5Sizes...)
	sizes = append(sizes, simdMinWhole-1, simdMinWhole, simdMinWhole+1)
	for range 40 {
		sizes = append(sizes, rng.IntN(200<<10))
	}
	for _, eng := range engines(t) {
		h := newHasher(eng)
		for _, size := range sizes {
			data := randomBytes(rng, size)
			want := md5.Sum(data)
			// Whole, in the read buffer's chunks, and in odd short writes
			// that split md5 blocks.
			for mode, write := range map[string]func(){
				"whole":  func() { h.Write(data) },
				"held":   func() { h.WriteWhole(data) },
				"reader": func() { h.ReadFrom(bytes.NewReader(data)) },
				"short":  func() { h.ReadFrom(iotest.HalfReader(bytes.NewReader(data))) },
			} {
				h.Reset()
				write()
				if got := h.Sum(); got.MD5 != hex.EncodeToString(want[:]) {
					t.Errorf("%s, %s, %d bytes: md5 %s, want %x", eng.name, mode, size, got.MD5, want)
				}
			}
		}
	}
}

// TestMD5ManyStreams hashes many streams of different lengths at once, so
// that md5-simd's lanes hold blocks of different streams and lengths
// together, as in a scan.
func TestMD5ManyStreams(t *testing.T) {
	for _, eng := range engines(t) {
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for g := range 40 {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(g), 5))
				h := newHasher(eng)
				for i := range 30 {
					size := md5Sizes[(g+i)%len(md5Sizes)]
					if i%2 == 1 {
						size = rng.IntN(96 << 10)
					}
					data := randomBytes(rng, size)
					h.Reset()
					h.Write(data[:size/3])
					h.Write(data[size/3:])
					want := md5.Sum(data)
					if got := h.Sum(); got.MD5 != hex.EncodeToString(want[:]) {
						errs <- fmt.Errorf("%s, stream %d, %d bytes: md5 %s, want %x", eng.name, g, size, got.MD5, want)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
}

// TestWriteWhole checks that a content written whole hashes as written in
// pieces (all three digests and the head), that only a content of
// simdMinWhole bytes or more takes one of md5-simd's lanes, and that
// WriteWhole is the stream's only write.
func TestWriteWhole(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, eng := range engines(t) {
		h, pieces := newHasher(eng), newHasher(eng)
		for _, size := range []int{0, 1, 700, simdMinWhole - 1, simdMinWhole, 64 << 10} {
			data := randomBytes(rng, size)
			h.Reset()
			h.WriteWhole(data)
			lane := h.md5.simd != nil
			pieces.Reset()
			pieces.Write(data[:size/2])
			pieces.Write(data[size/2:])
			if got, want := h.Sum(), pieces.Sum(); got != want || !bytes.Equal(h.Head(), pieces.Head()) {
				t.Errorf("%s, %d bytes: whole %+v, head %d bytes; in pieces %+v, head %d bytes", eng.name, size, got, len(h.Head()), want, len(pieces.Head()))
			}
			if wantLane := eng.server != nil && size >= simdMinWhole; lane != wantLane {
				t.Errorf("%s, %d bytes: an md5-simd lane taken %v, want %v", eng.name, size, lane, wantLane)
			}
		}
		for name, misuse := range map[string]func(){
			"Write after WriteWhole": func() { h.Reset(); h.WriteWhole([]byte("a")); h.Write([]byte("b")) },
			"WriteWhole after Write": func() { h.Reset(); h.Write([]byte("a")); h.WriteWhole([]byte("b")) },
			"WriteWhole after Sum":   func() { h.Reset(); h.Write([]byte("a")); h.Sum(); h.n = 0; h.WriteWhole([]byte("b")) },
		} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("%s: %s did not panic", eng.name, name)
					}
				}()
				misuse()
			}()
		}
	}
}

func TestSumEndsTheStream(t *testing.T) {
	for _, eng := range engines(t) {
		h := newHasher(eng)
		h.Write([]byte("abc"))
		first, again := h.Sum(), h.Sum()
		if first != again {
			t.Errorf("%s: a second Sum gave %+v, want %+v", eng.name, again, first)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: Write after Sum did not panic", eng.name)
				}
			}()
			h.Write([]byte("d"))
		}()
		h.Reset()
		h.Write([]byte("d"))
		if got, want := h.Sum().MD5, fmt.Sprintf("%x", md5.Sum([]byte("d"))); got != want {
			t.Errorf("%s: after Reset md5 %s, want %s", eng.name, got, want)
		}
	}
}

// smallBuffers are 1–64 KiB, log-uniform, as the bench's small corpus.
func smallBuffers() ([][]byte, int64) {
	rng := rand.New(rand.NewPCG(7, 8))
	bufs := make([][]byte, 512)
	var total int64
	for i := range bufs {
		n := int(1024 * math.Pow(64, rng.Float64()))
		bufs[i] = randomBytes(rng, n)
		total += int64(n)
	}
	return bufs, total
}

// hashInParallel hashes b.N rounds of bufs with streams goroutines, each with
// its own Hasher, each buffer a stream, and reports the throughput per
// second of wall time (MB/s) and per second of the process's CPU time
// (MB/cpu-s): on a shared machine only the second means much.
func hashInParallel(b *testing.B, eng *md5Engine, streams int, bufs [][]byte, total int64, write func(h *Hasher, p []byte)) {
	b.SetBytes(total)
	var next atomic.Int64
	cpu0 := cpuTime(b)
	defer func() {
		b.ReportMetric(float64(total)*float64(b.N)/1e6/(cpuTime(b)-cpu0).Seconds(), "MB/cpu-s")
	}()
	b.ResetTimer()
	var wg sync.WaitGroup
	for range streams {
		wg.Go(func() {
			h := newHasher(eng)
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N)*int64(len(bufs)) {
					return
				}
				h.Reset()
				write(h, bufs[i%int64(len(bufs))])
				h.Sum()
			}
		})
	}
	wg.Wait()
}

// BenchmarkMD5 is md5 alone (sha1 and sha256 not run) of 1–64 KiB
// buffers, by implementation and streams in flight.
func BenchmarkMD5(b *testing.B) {
	bufs, total := smallBuffers()
	for _, eng := range engines(b) {
		for _, streams := range []int{1, 2, 4, 8, 16, 32} {
			b.Run(fmt.Sprintf("%s/streams=%d", eng.name, streams), func(b *testing.B) {
				hashInParallel(b, eng, streams, bufs, total, func(h *Hasher, p []byte) { h.md5.write(p) })
			})
		}
	}
}

// BenchmarkHasherStreams is the three digests of 1–64 KiB buffers and of
// 8 MiB streams written in read-buffer chunks, by md5 implementation and
// streams in flight: the hashing limit of a scan of small and large files.
func BenchmarkHasherStreams(b *testing.B) {
	small, smallTotal := smallBuffers()
	large := [][]byte{randomBytes(rand.New(rand.NewPCG(9, 9)), 8<<20)}
	chunked := func(h *Hasher, p []byte) {
		for off := 0; off < len(p); off += BufSize {
			h.Write(p[off:min(off+BufSize, len(p))])
		}
	}
	for _, eng := range engines(b) {
		for _, streams := range []int{2, 16} {
			b.Run(fmt.Sprintf("small/%s/streams=%d", eng.name, streams), func(b *testing.B) {
				hashInParallel(b, eng, streams, small, smallTotal, func(h *Hasher, p []byte) { h.Write(p) })
			})
			b.Run(fmt.Sprintf("large/%s/streams=%d", eng.name, streams), func(b *testing.B) {
				hashInParallel(b, eng, streams, large, 8<<20, chunked)
			})
		}
	}
}

// cpuTime is the process's user+sys CPU time so far.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
