package digest

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
)

func TestReaderMatchesStdlib(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 1, 63, 64, BufSize - 1, BufSize, BufSize + 1, 3*BufSize + 17} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.IntN(256))
		}
		// HalfReader exercises short reads.
		for name, r := range map[string]io.Reader{
			"plain": bytes.NewReader(data),
			"half":  iotest.HalfReader(bytes.NewReader(data)),
		} {
			got, err := Reader(r)
			if err != nil {
				t.Fatal(err)
			}
			m, s1, s256 := md5.Sum(data), sha1.Sum(data), sha256.Sum256(data)
			want := [3]string{hex.EncodeToString(m[:]), hex.EncodeToString(s1[:]), hex.EncodeToString(s256[:])}
			if [3]string{got.MD5, got.SHA1, got.SHA256} != want || got.Size != int64(size) {
				t.Errorf("%s size %d: got %+v, want %v", name, size, got, want)
			}
		}
	}
}

func TestReaderError(t *testing.T) {
	if _, err := Reader(iotest.ErrReader(iotest.ErrTimeout)); err == nil {
		t.Fatal("want the reader's error")
	}
}

func BenchmarkHash(b *testing.B) {
	data := make([]byte, 8<<20)
	b.SetBytes(int64(len(data)))
	h := New()
	for b.Loop() {
		h.Reset()
		h.ReadFrom(bytes.NewReader(data))
		h.Sum()
	}
}

func TestHeadKeepsTheFirstBytes(t *testing.T) {
	data := make([]byte, 3*HeadSize)
	for i := range data {
		data[i] = byte(i * 7)
	}
	h := New()
	for _, n := range []int{0, 1, HeadSize - 1, HeadSize, len(data)} {
		h.Reset()
		// Short reads: the head is gathered across writes.
		if _, err := h.ReadFrom(iotest.OneByteReader(bytes.NewReader(data[:n]))); err != nil {
			t.Fatal(err)
		}
		if got, want := h.Head(), data[:min(n, HeadSize)]; !bytes.Equal(got, want) {
			t.Errorf("%d bytes: head of %d bytes, want %d", n, len(got), len(want))
		}
	}
}
