// Package digest computes md5, sha1 and sha256 of a stream in one pass, with
// pooled buffers. BLAKE3 is deliberately absent: it is for directory digests.
package digest

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
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
// usable; call New. A Hasher may be Reset and reused.
type Hasher struct {
	md5, sha1, sha256 hash.Hash
	n                 int64
	head              []byte
}

// New returns a ready Hasher.
func New() *Hasher {
	return &Hasher{md5: md5.New(), sha1: sha1.New(), sha256: sha256.New(), head: make([]byte, 0, HeadSize)}
}

// Reset clears the Hasher for a new stream.
func (h *Hasher) Reset() {
	h.md5.Reset()
	h.sha1.Reset()
	h.sha256.Reset()
	h.n = 0
	h.head = h.head[:0]
}

// Write feeds p to all three hashes. It never fails.
func (h *Hasher) Write(p []byte) (int, error) {
	h.md5.Write(p)
	h.sha1.Write(p)
	h.sha256.Write(p)
	h.n += int64(len(p))
	if len(h.head) < HeadSize {
		h.head = append(h.head, p[:min(len(p), HeadSize-len(h.head))]...)
	}
	return len(p), nil
}

// Head returns the first HeadSize bytes written since the last Reset (all of
// them if fewer), so that a caller can tell a file's type by content without
// reading it twice. The slice is valid until the next Reset.
func (h *Hasher) Head() []byte { return h.head }

// Sum returns the digests of what was written so far.
func (h *Hasher) Sum() dto.FileHash {
	var b [sha256.Size]byte
	return dto.FileHash{
		Size:   h.n,
		MD5:    hex.EncodeToString(h.md5.Sum(b[:0])),
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
