package service

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/uow"
)

// TestDirsTopComputedAfterItsChildren: a volume's top is the
// catalog directory "/", which must be computed after its subdirectories,
// and is not its own child (its parent key is that of its children):
// "/" gets the digests and counts that "/r", the same shape one level down,
// has, however often it is updated.
func TestDirsTopComputedAfterItsChildren(t *testing.T) {
	ctx := context.Background()
	c := openTestCatalog(t)
	h := func(s string) dto.FileHash {
		m, s1, s2 := md5.Sum([]byte(s)), sha1.Sum([]byte(s)), sha256.Sum256([]byte(s))
		return dto.FileHash{MD5: hex.EncodeToString(m[:]), SHA1: hex.EncodeToString(s1[:]), SHA256: hex.EncodeToString(s2[:])}
	}
	var fs []dto.FileWithHash
	for _, p := range []string{"/a/x", "/r/a/x"} {
		fs = append(fs, dto.FileWithHash{Hash: h("A"), FileMeta: dto.FileMeta{Machine: "m", Path: p, Name: "x", Size: 1,
			Modified: time.Unix(1, 0), Scanned: time.Unix(1, 0), Operation: dto.OpAdd}})
	}
	err := c.UoW().Do(ctx, "setup", func(ctx context.Context, r *uow.Repos) error {
		if _, err := r.Files.InsertMany(ctx, fs); err != nil {
			return err
		}
		var ds []dto.Dir
		for _, p := range []string{"/", "/a", "/r", "/r/a"} {
			ds = append(ds, dto.Dir{Machine: "m", Path: p, Parent: parentKey(p), Complete: true})
		}
		if err := r.Dirs.Mark(ctx, ds); err != nil {
			return err
		}
		return recomputeDirs(ctx, r, "m", map[string]bool{"/a": true, "/r/a": true}, nil, nil, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	// A second update (nothing changed) and a third.
	for range 2 {
		if err := c.UoW().Do(ctx, "again", func(ctx context.Context, r *uow.Repos) error {
			return recomputeDirs(ctx, r, "m", map[string]bool{"/a": true}, nil, nil, nil)
		}); err != nil {
			t.Fatal(err)
		}
	}
	dirs := dumpDirs(t, c, "m", "/")
	for _, p := range []string{"/a", "/r/a", "/r", "/"} {
		d := dirs[p]
		t.Logf("%-5s complete %v files %d size %d tree %x content %x", p, d.Complete, d.Files, d.Size, d.Tree, d.Content)
	}
	if d := dirs["/"]; d.Content == nil || d.Tree == nil || d.Files != 2 {
		t.Errorf("/ has %d files, tree %x, content %x; want 2 files and both digests, as /r has", d.Files, d.Tree, d.Content)
	}
}
