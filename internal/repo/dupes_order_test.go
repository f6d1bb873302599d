package repo_test

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/catalogtest"
	"github.com/indexer/indexer/internal/dbtest"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/pgtest"
	"github.com/indexer/indexer/internal/repo"
	"github.com/indexer/indexer/internal/service"
	"github.com/indexer/indexer/internal/uow"
)

// TestDupesOrderMachinesBytewise checks that the files of a group, ordered
// by path then machine, are in one order whether Dupes holds the listing
// and sorts it in Go (bytewise) or the database sorts it (the fallback for
// a listing too large to hold): machines compare bytewise in both. On
// PostgreSQL, text follows the database's locale, such as en_US.UTF-8 (the
// usual default): the catalog is made in a database of the en-US ICU
// locale, where "b-eta" < "beta" < "Beta", not "Beta" < "b-eta" < "beta".
func TestDupesOrderMachinesBytewise(t *testing.T) {
	ctx := context.Background()
	var c *service.Catalog
	if dbtest.OnPostgres() {
		c = openICUCatalog(t)
	} else {
		c = catalogtest.MustOpen(t)
	}
	var files []dto.FileWithHash
	for i, m := range []string{"beta", "Beta", "b-eta"} {
		content := []byte("same content")
		s1, s2, s3 := md5.Sum(content), sha1.Sum(content), sha256.Sum256(content)
		files = append(files, dto.FileWithHash{
			FileMeta: dto.FileMeta{Machine: m, Path: "/data/x.txt", Name: "x.txt", Size: int64(len(content)),
				Modified: time.Unix(1e9, 0), Scanned: time.Now(), Operation: dto.OpAdd,
				Validators: dto.Validators{Size: int64(len(content)), Inode: uint64(100 + i), Device: 1}},
			Hash: dto.FileHash{Size: int64(len(content)), MD5: hex.EncodeToString(s1[:]), SHA1: hex.EncodeToString(s2[:]), SHA256: hex.EncodeToString(s3[:])},
		})
	}
	catalogtest.Insert(t, c, files)
	list := func(held int) string {
		defer repo.SetDupesHeldBytes(repo.SetDupesHeldBytes(held))
		var out string
		err := c.UoW().Read(ctx, func(ctx context.Context, r *uow.Repos) error {
			return r.Files.Dupes(ctx, dto.DupeFilter{MinSize: 1, MaxSize: -1}, func(g dto.DupeGroup) error {
				for _, f := range g.Files {
					out += f.Machine + " "
				}
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	sorted, held := list(0), list(64<<20)
	if want := "Beta b-eta beta "; held != want {
		t.Errorf("held files in machine order %q, want %q", held, want)
	}
	t.Logf("database-sorted: %s; held (Go): %s", sorted, held)
	if sorted != held {
		t.Errorf("files of one group in another order when held (%s) than sorted by the database (%s)", held, sorted)
	}
}

// openICUCatalog opens a catalog in a new PostgreSQL database of the en-US
// ICU locale, which orders text by that locale's collation.
func openICUCatalog(t *testing.T) *service.Catalog {
	t.Helper()
	ctx := context.Background()
	u, err := url.Parse(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/") + "_icu"
	admin := *u
	admin.Path = "/postgres"
	a, err := sqlx.Open("pgx", admin.String())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.ExecContext(ctx, "CREATE DATABASE "+name+" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.utf8'"); err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return catalogtest.MustOpenAt(t, u.String())
}
