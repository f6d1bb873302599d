package service_test

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/indexer/indexer/internal/catalogtest"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/match"
	"github.com/indexer/indexer/internal/service"
)

func find(t *testing.T, c *service.Catalog, o service.FindOptions) []string {
	t.Helper()
	var got []string
	n, err := c.Find(context.Background(), o, func(f dto.FileWithHash) error {
		got = append(got, catalogtest.Label(f.Machine, f.Path, f.ArchivePath))
		return nil
	})
	if err != nil {
		t.Fatalf("Find(%+v): %v", o, err)
	}
	if n != len(got) {
		t.Errorf("Find returned %d, passed %d", n, len(got))
	}
	return got
}

func TestFindFiltersCombine(t *testing.T) {
	catalogtest.EachSample(t, func(t *testing.T, s *catalogtest.SampleCatalog) {
		m1, m2 := s.Roots[catalogtest.M1], s.Roots[catalogtest.M2]
		p1 := func(rel string) string { return catalogtest.Label("m1", filepath.Join(m1, rel), "") }
		p2 := func(rel string) string { return catalogtest.Label("m2", filepath.Join(m2, rel), "") }
		photo := []byte(strings.Repeat("photo ", 500))
		md, s1, s256 := md5.Sum(photo), sha1.Sum(photo), sha256.Sum256(photo)
		zip := filepath.Join(m2, "docs", "old.zip")
		tests := []struct {
			name string
			opts service.FindOptions
			want []string
		}{
			{"glob", service.FindOptions{Name: "photo1*"}, []string{p1("a/photo1-copy.JPG"), p1("a/photo1.jpg"), catalogtest.Label("m2", zip, "2019/photo1.jpg"), p2("photos/photo1.jpg")}},
			{"glob is case-sensitive", service.FindOptions{Name: "*.jpg"}, []string{p1("a/photo1.jpg"), p1("b/deep/x.jpg"), p1("b/link.jpg"), catalogtest.Label("m2", zip, "2019/photo1.jpg"), p2("photos/photo1.jpg")}},
			{"glob -i", service.FindOptions{Name: "*.JPG", Fold: true}, []string{p1("a/photo1-copy.JPG"), p1("a/photo1.jpg"), p1("b/deep/x.jpg"), p1("b/link.jpg"), catalogtest.Label("m2", zip, "2019/photo1.jpg"), p2("photos/photo1.jpg")}},
			{"glob -i non-ASCII", service.FindOptions{Name: "CAFÉ.*", Fold: true}, []string{p1("odd/Café.TXT")}},
			{"percent is literal", service.FindOptions{Name: "100% *"}, []string{p1("odd/100% done.txt")}},
			{"percent only", service.FindOptions{Name: "*%*"}, []string{p1("odd/100% done.txt")}},
			{"underscore is literal", service.FindOptions{Name: "a_b.*"}, []string{p1("odd/a_b.txt")}},
			{"question mark", service.FindOptions{Name: "a?b.txt"}, []string{p1("odd/a_b.txt"), p1("odd/axb.txt")}},
			{"class", service.FindOptions{Name: "[ab]?b.txt"}, []string{p1("odd/a_b.txt"), p1("odd/axb.txt")}},
			{"negated class", service.FindOptions{Name: "a[!_]b.txt"}, []string{p1("odd/axb.txt")}},
			{"escaped star", service.FindOptions{Name: `back\\slash`}, []string{p1(`odd/back\slash`)}},
			{"newline in name", service.FindOptions{Name: "new\nline*"}, []string{p1("odd/new\nline.txt")}},
			{"invalid UTF-8 name", service.FindOptions{Name: "bad?name"}, []string{p1("odd/bad\xffname")}},
			{"hidden file has its name", service.FindOptions{Name: ".*"}, []string{p1(".profile")}},
			{"substring", service.FindOptions{Terms: []string{"deep/"}}, []string{p1("b/deep/x.jpg")}},
			{"substring -i", service.FindOptions{Terms: []string{"/DOCS/"}, Fold: true}, []string{p2("docs/doc.txt"), p2("docs/old.zip"), catalogtest.Label("m2", zip, "2019/photo1.jpg"), catalogtest.Label("m2", zip, "readme.md"), p2("docs/report.pdf")}},
			{"substring and glob", service.FindOptions{Terms: []string{"/b/"}, Name: "*.jpg"}, []string{p1("b/deep/x.jpg"), p1("b/link.jpg")}},
			{"md5", service.FindOptions{Hash: hex.EncodeToString(md[:]), Machine: "m2"}, []string{catalogtest.Label("m2", zip, "2019/photo1.jpg"), p2("photos/photo1.jpg")}},
			{"sha1 upper case, under", service.FindOptions{Hash: strings.ToUpper(hex.EncodeToString(s1[:])), Under: filepath.Join(m1, "b")}, []string{p1("b/deep/x.jpg"), p1("b/link.jpg")}},
			{"sha256 and name", service.FindOptions{Hash: hex.EncodeToString(s256[:]), Name: "*copy*"}, []string{p1("a/photo1-copy.JPG")}},
			{"size range", service.FindOptions{MinSize: 5000, MaxSize: 19999}, []string{p1("links/l2.bin"), p1("links/l3.bin"), p1("links/orig.bin")}},
			{"max size 0", service.FindOptions{Under: m1}, nil}, // filled below
			{"machine and glob", service.FindOptions{Machine: "m2", Name: "*.dat"}, []string{p2("copy/big.dat")}},
			{"deleted left out", service.FindOptions{Name: "gone.txt"}, nil},
			{"deleted asked for", service.FindOptions{Name: "gone.txt", Deleted: true}, []string{p1("gone.txt")}},
			{"limit", service.FindOptions{Name: "*.txt", Machine: "m1", Limit: 2}, []string{p1("a/doc.txt"), p1("b/doc.txt")}},
			{"under a file's own path", service.FindOptions{Under: filepath.Join(m1, "a", "doc.txt")}, []string{p1("a/doc.txt")}},
			{"no match", service.FindOptions{Name: "*.nothing"}, nil},
			{"terms all match", service.FindOptions{Terms: []string{"m1/", "doc"}}, []string{p1("a/doc.txt"), p1("b/doc.txt")}},
			{"glob term matches the name", service.FindOptions{Terms: []string{"*.jpg"}, Machine: "m1"}, []string{p1("a/photo1.jpg"), p1("b/deep/x.jpg"), p1("b/link.jpg")}},
			{"glob term with a slash matches the path", service.FindOptions{Terms: []string{"*/b/*/*.jpg"}}, []string{p1("b/deep/x.jpg")}},
			{"glob and substring terms, -i", service.FindOptions{Terms: []string{"*.JPG", "deep"}, Fold: true}, []string{p1("b/deep/x.jpg")}},
			{"sha256 prefix", service.FindOptions{Hash: hex.EncodeToString(s256[:])[:8], Machine: "m1"}, []string{p1("a/photo1-copy.JPG"), p1("a/photo1.jpg"), p1("b/deep/x.jpg"), p1("b/link.jpg")}},
			{"odd sha256 prefix", service.FindOptions{Hash: hex.EncodeToString(s256[:])[:11], Machine: "m1"}, []string{p1("a/photo1-copy.JPG"), p1("a/photo1.jpg"), p1("b/deep/x.jpg"), p1("b/link.jpg")}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				o := tt.opts
				o.IncludeArchived = true
				if o.MaxSize == 0 && tt.name != "max size 0" {
					o.MaxSize = -1
				}
				want := tt.want
				if tt.name == "max size 0" {
					want = []string{p1("a/empty1"), p1("b/empty2")}
				}
				got := find(t, s.Catalog, o)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("got  %q\nwant %q", got, want)
				}
			})
		}
	})
}

func TestFindLeavesOutArchiveEntriesByDefault(t *testing.T) {
	catalogtest.EachSample(t, func(t *testing.T, s *catalogtest.SampleCatalog) {
		var want, all []string
		for _, e := range s.Entries {
			if e.Deleted {
				continue
			}
			l := catalogtest.Label(e.Machine, e.Path, e.ArchivePath)
			all = append(all, l)
			if !e.Archived {
				want = append(want, l)
			}
		}
		got := find(t, s.Catalog, service.FindOptions{MaxSize: -1})
		sort.Strings(got)
		sort.Strings(want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("default\n got %q\nwant %q", got, want)
		}
		if got := find(t, s.Catalog, service.FindOptions{MaxSize: -1, IncludeArchived: true}); len(got) != len(all) || len(all) == len(want) {
			t.Errorf("with archive entries: %d entries, want %d (of which %d plain)", len(got), len(all), len(want))
		}
	})
}

func TestFindBadQuery(t *testing.T) {
	s := catalogtest.Sample(t)
	for _, o := range []service.FindOptions{{Name: "[a-"}, {Name: `x\`}, {Hash: "abc"}, {Hash: strings.Repeat("g", 32)},
		{Hash: "abcdef0"}, {Hash: "abcdef0g"}, {Hash: strings.Repeat("a", 65)}, {Terms: []string{"[a-"}}} {
		_, err := s.Find(context.Background(), o, func(dto.FileWithHash) error { return nil })
		var bad *service.BadQueryError
		if !errorsAs(err, &bad) {
			t.Errorf("Find(%+v) = %v, want a *BadQueryError", o, err)
		}
	}
}

// TestFindNamePrefilterKeepsEveryMatch runs random patterns against the
// sample's names through SQLite and checks the answer equals matching every
// name in Go: the coarse LIKE must never drop a match.
func TestFindNamePrefilterKeepsEveryMatch(t *testing.T) {
	s := catalogtest.Sample(t)
	names := map[string][]string{} // name → labels
	for _, e := range s.Entries {
		if e.Deleted {
			continue
		}
		n := filepath.Base(e.Path)
		if e.ArchivePath != "" {
			n = filepath.Base(e.ArchivePath)
		}
		names[n] = append(names[n], catalogtest.Label(e.Machine, e.Path, e.ArchivePath))
	}
	pieces := []string{"*", "?", "o", "O", "%", "_", ".", "txt", "TXT", "1", "[a-c]", "[!p]", `\\`, "\n", "\xff", "é", "É", "photo", "K"}
	rng := rand.New(rand.NewPCG(5, 6))
	matched := 0
	for range 300 {
		var p strings.Builder
		for range 1 + rng.IntN(4) {
			p.WriteString(pieces[rng.IntN(len(pieces))])
		}
		fold := rng.IntN(2) == 0
		m, err := match.Glob(p.String(), fold)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for n, ls := range names {
			if m.Match(n) {
				want = append(want, ls...)
			}
		}
		got := find(t, s.Catalog, service.FindOptions{Name: p.String(), Fold: fold, MaxSize: -1, IncludeArchived: true})
		sort.Strings(want)
		sort.Strings(got)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("pattern %q fold %v: got %q, want %q", p.String(), fold, got, want)
		}
		matched += len(want)
	}
	if matched < 100 {
		t.Fatalf("only %d matches over all patterns; the test proves little", matched)
	}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
