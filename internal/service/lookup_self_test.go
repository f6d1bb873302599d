package service

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/dto"
)

// TestLookupSelfAndStale is issue 23's second case: the looked-up file's own
// row is no copy of it, whether named by the same path or reached through
// another (same device and inode), and places on this machine count only
// while the file there is as catalogued.
func TestLookupSelfAndStale(t *testing.T) {
	base := t.TempDir()
	dir, other := filepath.Join(base, "dir"), filepath.Join(base, "other")
	p := randomBytes(9, 2000)
	for _, name := range []string{"photo.jpg", "copy.jpg", "gone.jpg", "changed.jpg"} {
		writeFile(t, filepath.Join(dir, name), p)
	}
	writeFile(t, filepath.Join(other, "p.jpg"), p)
	writeFile(t, filepath.Join(dir, "alone.txt"), []byte("only here\n"))
	link := filepath.Join(base, "link")
	if err := os.Symlink("dir", link); err != nil {
		t.Fatal(err)
	}
	c := openTestCatalog(t)
	ctx := context.Background()
	if _, err := c.Scan(ctx, []string{dir}, ScanOptions{Machine: "here"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Scan(ctx, []string{other}, ScanOptions{Machine: "nas"}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "gone.jpg")); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "changed.jpg"), later, later); err != nil {
		t.Fatal(err)
	}
	lookup := func(name string, o LookupOptions) dto.LookupResult {
		t.Helper()
		var got []dto.LookupResult
		if err := c.Lookup(ctx, []string{name}, o, func(r dto.LookupResult) error {
			got = append(got, r)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Error != "" {
			t.Fatalf("lookup %s: %+v", name, got)
		}
		got[0].SHA256, got[0].Size = "", 0
		return got[0]
	}
	here := func(name, check string) dto.Location {
		return dto.Location{Machine: "here", Path: filepath.Join(dir, name), Check: check}
	}
	nas := dto.Location{Machine: "nas", Path: filepath.Join(other, "p.jpg"), Check: dto.CheckOtherMachine}

	// Through the symlinked directory: the path differs, the inode is the same.
	viaLink := filepath.Join(link, "photo.jpg")
	want := dto.LookupResult{File: viaLink, Found: true, Copies: 2,
		Locations: []dto.Location{here("copy.jpg", dto.CheckVerified), nas},
		Self:      []dto.Location{here("photo.jpg", "")},
		Stale:     []dto.Location{here("changed.jpg", dto.CheckChanged), here("gone.jpg", dto.CheckGone)}}
	if got := lookup(viaLink, LookupOptions{Machine: "here"}); !reflect.DeepEqual(got, want) {
		t.Errorf("lookup through a symlink\n got %+v\nwant %+v", got, want)
	}

	// By its own path, trusting the catalog: nothing is checked, but the
	// file is still not a copy of itself.
	own := filepath.Join(dir, "photo.jpg")
	skipped := dto.CheckSkipped
	want = dto.LookupResult{File: own, Found: true, Copies: 4,
		Locations: []dto.Location{here("changed.jpg", skipped), here("copy.jpg", skipped), here("gone.jpg", skipped), nas},
		Self:      []dto.Location{here("photo.jpg", "")}}
	if got := lookup(own, LookupOptions{Machine: "here", NoCheck: true}); !reflect.DeepEqual(got, want) {
		t.Errorf("lookup --no-check\n got %+v\nwant %+v", got, want)
	}

	// From another machine's point of view the other places are unchecked;
	// the file's own row, under another machine's name but with this
	// file's path, device and inode, is still the file itself (a renamed
	// host, a container's new name).
	if got := lookup(own, LookupOptions{Machine: "nas"}); len(got.Self) != 1 || len(got.Locations) != 4 {
		t.Errorf("lookup as nas: %+v, want 4 places (3 on here, unchecked, and p.jpg) and itself as self", got)
	}

	// A file catalogued only under its own name is not found.
	alone := filepath.Join(dir, "alone.txt")
	want = dto.LookupResult{File: alone, Self: []dto.Location{here("alone.txt", "")}}
	if got := lookup(alone, LookupOptions{Machine: "here"}); !reflect.DeepEqual(got, want) {
		t.Errorf("lookup of a file catalogued once\n got %+v\nwant %+v", got, want)
	}
}
