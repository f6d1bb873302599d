package digest

import (
	"crypto/md5"
	"hash"
	"sync"

	"github.com/klauspost/cpuid/v2"
	md5simd "github.com/minio/md5-simd"
)

// An md5Engine computes md5 for Hashers: crypto/md5 in the caller's
// goroutine, or github.com/minio/md5-simd, whose server goroutine hashes up
// to 16 streams at once in the lanes of AVX-512 registers.
//
// md5-simd is used only where the CPU has AVX-512 (F and DQ, what its 16-lane
// code needs). Measured on a 2-core Xeon with AVX-512 (BenchmarkMD5 and
// BenchmarkHasherStreams in this package, 2026-12): md5 of 1–64 KiB buffers
// with 16 streams in flight ran 3–4× faster than crypto/md5, and the three
// digests together about 1.5× faster. On AVX2 alone md5-simd has 8 lanes and
// was measured (issue 20) at only 1.2–1.3× crypto/md5, less than the copying
// and hand-offs it adds to a scan, so crypto/md5 stays there.
type md5Engine struct {
	name string
	// streams is how many streams must be in flight to keep the engine
	// busy: 1 for crypto/md5, md5simd.Lanes for md5-simd.
	streams int
	// server starts the md5-simd server on first use, not at start: it
	// allocates 1.5 MiB of buffers and a goroutine that a command which
	// hashes nothing should not pay for. Nil for crypto/md5.
	server func() md5simd.Server

	// idle are md5-simd clients between streams. A client is registered
	// with the server for good: md5-simd v1.1.2 never forgets a closed one
	// (it deletes uid 0 instead), and its server loop walks them all, so
	// clients are reused rather than made and closed per stream.
	mu   sync.Mutex
	idle []md5simd.Hasher
}

func (e *md5Engine) take() md5simd.Hasher {
	e.mu.Lock()
	defer e.mu.Unlock()
	if n := len(e.idle); n > 0 {
		c := e.idle[n-1]
		e.idle = e.idle[:n-1]
		c.Reset()
		return c
	}
	return e.server().NewHash()
}

func (e *md5Engine) give(c md5simd.Hasher) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.idle = append(e.idle, c)
}

// engine is chosen once, at start, from what the CPU offers.
var engine = chooseEngine()

func chooseEngine() *md5Engine {
	if cpuid.CPU.Supports(cpuid.AVX512F, cpuid.AVX512DQ) {
		return simdEngine()
	}
	return stdEngine()
}

func stdEngine() *md5Engine { return &md5Engine{name: "crypto/md5", streams: 1} }

// simdEngine is md5-simd; its server runs for the life of the process.
func simdEngine() *md5Engine {
	return &md5Engine{name: "md5-simd (AVX-512, 16 lanes)", streams: md5simd.Lanes, server: sync.OnceValue(md5simd.NewServer)}
}

// MD5 names the md5 implementation in use, for reports and benchmarks.
func MD5() string { return engine.name }

// Streams is how many files should be hashed at once, each by its own
// Hasher in its own goroutine, for md5 to run at full speed: 16 with
// md5-simd, whose lanes are filled from as many streams, and 1 with
// crypto/md5. Callers that size a pool of hashing goroutines take the larger
// of this and the number of CPUs. The goroutines beyond the CPUs mostly wait
// for md5; they cost a read buffer each.
func Streams() int { return engine.streams }

// md5Stream is one stream's md5. With md5-simd it holds a client of the
// server from the first Write after a Reset to the Sum, so that there are
// never many more clients than streams in flight: the server tries to fill
// its lanes from every client before it hashes a round.
type md5Stream struct {
	eng  *md5Engine
	std  hash.Hash      // crypto/md5
	simd md5simd.Hasher // md5-simd, nil between streams
	done bool           // Sum was taken; Reset before writing again
	sum  [md5.Size]byte
}

func newMD5Stream(eng *md5Engine) *md5Stream {
	m := &md5Stream{eng: eng}
	if eng.server == nil {
		m.std = md5.New()
	}
	return m
}

func (m *md5Stream) reset() {
	if m.std != nil {
		m.std.Reset()
	}
	m.close()
	m.done = false
}

func (m *md5Stream) write(p []byte) {
	if m.done {
		panic("digest: Write after Sum without Reset")
	}
	if m.std != nil {
		m.std.Write(p)
		return
	}
	if len(p) == 0 {
		return
	}
	if m.simd == nil {
		m.simd = m.eng.take()
	}
	// md5-simd copies p into its own buffers and hashes it in the server
	// goroutine: the caller goes on to sha1 and sha256 meanwhile.
	m.simd.Write(p)
}

// simdMinWhole is the length from which a stream written whole at once
// (writeWhole) has its md5 computed by md5-simd: a shorter one costs less
// in crypto/md5, in the caller's goroutine, than md5-simd's copy into its
// buffers and hand-off to its server. Measured with the three digests of
// buffers of one size, 16 streams in flight on the 2-core AMD EPYC with
// AVX-512 (2026-12, MB per CPU-second, crypto/md5 against md5-simd): 1 KiB
// 301 against 155, 2 KiB 344 / 245, 4 KiB 379 / 344, 5 KiB 375 / 373,
// 6 KiB 382 / 399, 64 KiB 386 / 560.
const simdMinWhole = 5 << 10

// writeWhole writes p, the whole stream: the first write since the reset,
// which only Sum may follow.
func (m *md5Stream) writeWhole(p []byte) {
	if m.std != nil || m.simd != nil || len(p) >= simdMinWhole {
		m.write(p)
		return
	}
	if m.done {
		panic("digest: Write after Sum without Reset")
	}
	m.sum = md5.Sum(p)
	m.done = true // finish returns m.sum; a further write panics
}

// finish returns the md5 of what was written, and ends the stream.
func (m *md5Stream) finish() [md5.Size]byte {
	if m.done {
		return m.sum
	}
	switch {
	case m.std != nil:
		m.std.Sum(m.sum[:0])
	case m.simd == nil: // nothing written
		m.sum = md5.Sum(nil)
	default:
		m.simd.Sum(m.sum[:0])
		m.close()
	}
	m.done = true
	return m.sum
}

func (m *md5Stream) close() {
	if m.simd != nil {
		m.eng.give(m.simd)
		m.simd = nil
	}
}
