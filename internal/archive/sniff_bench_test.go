package archive

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"
)

func BenchmarkSniffOrdinaryFile(b *testing.B) {
	head := make([]byte, HeadSize)
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range head {
		head[i] = byte(rng.IntN(256))
	}
	b.ReportAllocs()
	for b.Loop() {
		if Sniff(head) {
			b.Fatal("random bytes sniffed as an archive")
		}
	}
}

// TestSniffMagicsAgree keeps Sniff's copy of the magic numbers in step with
// the formats' own Match.
func TestSniffMagicsAgree(t *testing.T) {
	for _, c := range compressions {
		m, err := c.c.Match(context.Background(), "", bytes.NewReader(append(append([]byte{}, c.magic...), make([]byte, 16)...)))
		if err != nil || !m.ByStream {
			t.Errorf("%s: magic %x is not what mholt/archives matches", c.format, c.magic)
		}
	}
}
