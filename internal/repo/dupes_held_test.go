package repo_test

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/catalogtest"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/repo"
	"github.com/indexer/indexer/internal/uow"
)

// TestDupesHeldEqualsSorted checks that a listing Dupes holds and sorts
// itself is the listing the database sorts, which it falls back to when
// the listing outgrows what it may hold: with no room at all, with room
// for part of the listing, and with room for all of it, through the
// summary and through the rows (a machine, a subtree, archive entries, a
// name pattern);
// read through a raw connection (SQLite) or through the transaction, and
// sorted by the database through either.
func TestDupesHeldEqualsSorted(t *testing.T) {
	c := catalogtest.MustOpen(t)
	ctx := context.Background()
	g, err := catalogtest.Generate(ctx, c, catalogtest.Spec{Files: 4000, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	if g.HardLinks == 0 || g.Archived == 0 || g.Deleted == 0 {
		t.Fatalf("the generated catalog has %+v: no hard links, archive entries or deleted files to list around", g)
	}
	filters := []struct {
		name string
		d    dto.DupeFilter
	}{
		{"summary", dto.DupeFilter{MinSize: 1, MaxSize: -1}},
		{"summary, sizes", dto.DupeFilter{MinSize: 1000, MaxSize: 1 << 20}},
		{"machine", dto.DupeFilter{MinSize: 1, MaxSize: -1, Machine: "nas"}},
		{"under", dto.DupeFilter{MinSize: 1, MaxSize: -1, Under: []string{"/home/alice/Pictures", "/srv/share/alice"}}},
		{"archive entries", dto.DupeFilter{MinSize: 1, MaxSize: -1, IncludeArchived: true}},
		// A pattern is matched by indexer_glob, which raw connections lack.
		{"name", dto.DupeFilter{MinSize: 1, MaxSize: -1, Name: "*"}},
	}
	list := func(t *testing.T, d dto.DupeFilter, held int, rawFrom int64) []dto.DupeGroup {
		defer repo.SetDupesHeldBytes(repo.SetDupesHeldBytes(held))
		defer repo.SetRawDupesFiles(repo.SetRawDupesFiles(rawFrom))
		var out []dto.DupeGroup
		err := c.UoW().Read(ctx, func(ctx context.Context, r *uow.Repos) error {
			return r.Files.Dupes(ctx, d, func(g dto.DupeGroup) error {
				out = append(out, g)
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, f := range filters {
		t.Run(f.name, func(t *testing.T) {
			sorted := list(t, f.d, 0, 1<<62)
			if len(sorted) < 10 {
				t.Fatalf("%d groups: too few to tell an order", len(sorted))
			}
			linked := 0
			for _, g := range sorted {
				if g.Copies < g.Count {
					linked++
				}
			}
			if f.name == "summary" && linked == 0 {
				t.Fatal("no group has hard links")
			}
			for _, tc := range []struct {
				held    int
				rawFrom int64
			}{{4 << 10, 0}, {64 << 20, 0}, {64 << 20, 1 << 62}, {0, 0}} {
				held := tc.held
				t.Run(fmt.Sprintf("held %d, raw from %d files", tc.held, tc.rawFrom), func(t *testing.T) {
					if got := list(t, f.d, tc.held, tc.rawFrom); !reflect.DeepEqual(got, sorted) {
						t.Errorf("held in %d bytes: %d groups differ from the %d the database sorts", held, len(got), len(sorted))
						for i := range min(len(got), len(sorted)) {
							if !reflect.DeepEqual(got[i], sorted[i]) {
								t.Errorf("first difference, group %d:\n got: %+v\nwant: %+v", i, got[i], sorted[i])
								break
							}
						}
					}
				})
			}
		})
	}
}

// TestDupesAsksVolumesOnce checks that a held listing asks where a
// volume's file is mounted once per file, and shows the files of a group
// linked as its copies were counted: a volume unmounted between the two
// would otherwise leave two copies of which both files are Linked.
func TestDupesAsksVolumesOnce(t *testing.T) {
	c := catalogtest.MustOpen(t)
	ctx := context.Background()
	content := []byte("a file on a drive")
	s1, s2, s3 := md5.Sum(content), sha1.Sum(content), sha256.Sum256(content)
	var files []dto.FileWithHash
	for i, p := range []struct{ machine, path string }{{"vol:1234-abcd", "/x.txt"}, {"host", "/mnt/drive/x.txt"}} {
		files = append(files, dto.FileWithHash{
			FileMeta: dto.FileMeta{Machine: p.machine, Path: p.path, Name: "x.txt", Size: int64(len(content)),
				Modified: time.Unix(1e9, 0), Scanned: time.Now(), Operation: dto.OpAdd,
				Validators: dto.Validators{Size: int64(len(content)), Inode: uint64(100 + i), Device: uint64(1 + i)}},
			Hash: dto.FileHash{Size: int64(len(content)), MD5: hex.EncodeToString(s1[:]), SHA1: hex.EncodeToString(s2[:]), SHA256: hex.EncodeToString(s3[:])},
		})
	}
	catalogtest.Insert(t, c, files)
	asked := 0
	// Unmounted when first asked, mounted at /mnt/drive after.
	where := func(machine, path string) (string, uint64, uint64, bool) {
		asked++
		if asked == 1 {
			return "", 0, 0, false
		}
		return "/mnt/drive" + path, 0, 0, true
	}
	var groups []dto.DupeGroup
	err := c.UoW().Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		return r.Files.Dupes(ctx, dto.DupeFilter{MinSize: 1, MaxSize: -1, Where: where}, func(g dto.DupeGroup) error {
			groups = append(groups, g)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if asked != 1 {
		t.Errorf("where asked %d times for one volume file, want 1", asked)
	}
	if len(groups) != 1 || groups[0].Copies != 2 {
		t.Fatalf("groups %+v, want one of two copies", groups)
	}
	for _, f := range groups[0].Files {
		if f.Linked {
			t.Errorf("%s:%s shown linked in a group of %d copies of %d files", f.Machine, f.Path, groups[0].Copies, groups[0].Count)
		}
	}
}
