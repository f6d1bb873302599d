// Package digest computes md5, sha1 and sha256 of a stream in one pass, with
// pooled buffers; md5 runs on SIMD lanes where the CPU makes that faster
// (md5.go). BLAKE3 is deliberately absent: it is for directory digests.
package digest

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"runtime"
	"sync"

	"github.com/indexer/indexer/internal/dto"
)

// BufSize is the read size. 128 KiB keeps a chunk in L2 cache while the three
// hashes pass over it, and is large enough that syscalls cost little.
const BufSize = 128 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, BufSize); return &b }}

// HeadSize is how many leading bytes of a stream a Hasher keeps (see Head).
const HeadSize = 512

// Hasher feeds one stream to md5, sha1 and sha256. The zero value is not
// usable; call New. A Hasher may be Reset and reused; Sum ends a stream, so
// Reset it before writing the next. Hashers in different goroutines hash at
// the same time; see Streams for how many keep md5 busy.
type Hasher struct {
	md5          *md5Stream
	sha1, sha256 hash.Hash
	n            int64
	head         []byte
	whole        bool // WriteWhole wrote the stream: only Sum may follow
}

// New returns a ready Hasher.
func New() *Hasher { return newHasher(engine) }

func newHasher(eng *md5Engine) *Hasher {
	h := &Hasher{md5: newMD5Stream(eng), sha1: sha1.New(), sha256: sha256.New(), head: make([]byte, 0, HeadSize)}
	// A Hasher dropped mid-stream (a read failed, its worker stopped)
	// must not stay registered with the md5 server.
	runtime.AddCleanup(h, (*md5Stream).close, h.md5)
	return h
}

// Reset clears the Hasher for a new stream.
func (h *Hasher) Reset() {
	h.md5.reset()
	h.sha1.Reset()
	h.sha256.Reset()
	h.n = 0
	h.head = h.head[:0]
	h.whole = false
}

// Write feeds p to all three hashes. It never fails. Writing after Sum
// without a Reset panics.
func (h *Hasher) Write(p []byte) (int, error) {
	if h.whole {
		panic("digest: Write after WriteWhole")
	}
	h.md5.write(p)
	h.writeRest(p)
	return len(p), nil
}

// writeRest feeds p to sha1 and sha256 and counts it, after md5.
func (h *Hasher) writeRest(p []byte) {
	h.sha1.Write(p)
	h.sha256.Write(p)
	h.n += int64(len(p))
	if len(h.head) < HeadSize {
		h.head = append(h.head, p[:min(len(p), HeadSize-len(h.head))]...)
	}
}

// WriteWhole feeds p, the whole stream, to all three hashes: the first
// write since the last Reset, which only Sum may follow (a Write panics).
// It is Write for a content held whole, whose length picks the cheaper md5
// for it (see simdMinWhole).
func (h *Hasher) WriteWhole(p []byte) {
	if h.n != 0 || h.whole {
		panic("digest: WriteWhole after a write")
	}
	h.whole = true
	h.md5.writeWhole(p)
	h.writeRest(p)
}

// Head returns the first HeadSize bytes written since the last Reset (all of
// them if fewer), so that a caller can tell a file's type by content without
// reading it twice. The slice is valid until the next Reset.
func (h *Hasher) Head() []byte { return h.head }

// Sum returns the digests of what was written since the last Reset, and
// ends the stream: it may be called again, but not followed by a Write.
func (h *Hasher) Sum() dto.FileHash {
	var b [sha256.Size]byte
	m := h.md5.finish()
	return dto.FileHash{
		Size:   h.n,
		MD5:    hex.EncodeToString(m[:]),
		SHA1:   hex.EncodeToString(h.sha1.Sum(b[:0])),
		SHA256: hex.EncodeToString(h.sha256.Sum(b[:0])),
	}
}

// ReadFrom hashes r to its end with a pooled buffer.
func (h *Hasher) ReadFrom(r io.Reader) (int64, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var total int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			h.Write(buf[:n])
			total += int64(n)
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// Reader returns the digests of r's content, read once.
func Reader(r io.Reader) (dto.FileHash, error) {
	h := New()
	if _, err := h.ReadFrom(r); err != nil {
		return dto.FileHash{}, err
	}
	return h.Sum(), nil
}
