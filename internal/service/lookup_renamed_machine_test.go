package service

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/indexer/indexer/internal/dto"
)

// TestLookupOwnFileUnderAnotherMachineName: the host was renamed (or a
// container got a new host name) since the scan, so the looked-up file's own
// row carries another machine's name. Counted as a copy on another machine,
// it would make `lookup photo.jpg && rm photo.jpg` delete the only copy. A
// place of another machine with the file's absolute path, device and inode
// is the file itself.
func TestLookupOwnFileUnderAnotherMachineName(t *testing.T) {
	dir := t.TempDir()
	photo := filepath.Join(dir, "photo.jpg")
	writeFile(t, photo, randomBytes(3, 1000))
	c := openTestCatalog(t)
	ctx := context.Background()
	if _, err := c.Scan(ctx, []string{dir}, ScanOptions{Machine: "oldname"}); err != nil {
		t.Fatal(err)
	}
	var got []dto.LookupResult
	err := c.Lookup(ctx, []string{photo}, LookupOptions{Machine: "newname"}, func(r dto.LookupResult) error {
		got = append(got, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Error != "" {
		t.Fatalf("lookup: %+v", got)
	}
	got[0].SHA256, got[0].Size = "", 0
	want := dto.LookupResult{File: photo, Found: false,
		Self: []dto.Location{{Machine: "oldname", Path: photo}}}
	if !reflect.DeepEqual(got[0], want) {
		t.Fatalf("lookup of a file catalogued under an old machine name\n got %+v\nwant %+v", got[0], want)
	}
}
