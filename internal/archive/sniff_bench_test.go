package archive

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"

	"github.com/mholt/archives"
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

// TestSniffTellsGzipFromTarGzByHead: a gzip file whose head decompresses to
// no tar header is turned away by Sniff, without Identify; a tar.gz is not.
// Whatever Sniff turns away, Identify must turn away too.
func TestSniffTellsGzipFromTarGzByHead(t *testing.T) {
	text := bytes.Repeat([]byte("a manual page line, compressed as Debian does it\n"), 1500)
	random := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(2, 2))
	for i := range random {
		random[i] = byte(rng.IntN(256))
	}
	gz := func(b []byte) []byte { return compress(t, archives.Gz{}, b) }
	for _, c := range []struct {
		name  string
		file  []byte
		sniff bool
	}{
		{"gzip of text", gz(text), false},
		{"gzip shorter than a head", gz([]byte("short\n")), false},
		{"gzip of 300 bytes", gz(text[:300]), false},
		{"tar.gz", gz(tarOf(t, sample())), true},
		{"gzip of random bytes: the head runs out first", gz(random), true},
		{"damaged gzip header, whole file", []byte{0x1f, 0x8b, 0xff, 0xff}, false},
	} {
		head := c.file[:min(len(c.file), HeadSize)]
		if got := Sniff(head); got != c.sniff {
			t.Errorf("%s: Sniff = %v, want %v", c.name, got, c.sniff)
		}
		_, ok, err := Identify(context.Background(), bytes.NewReader(c.file))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if ok && !Sniff(head) {
			t.Errorf("%s: Identify says archive, Sniff turned it away", c.name)
		}
	}
}
