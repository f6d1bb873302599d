package service_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/catalogtest"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/service"
	"github.com/indexer/indexer/internal/uow"
)

func TestLookup(t *testing.T) {
	catalogtest.EachSample(t, func(t *testing.T, s *catalogtest.SampleCatalog) {
		dir := t.TempDir()
		have := filepath.Join(dir, "have.jpg")
		fresh := filepath.Join(dir, "fresh.jpg")
		onlyGone := filepath.Join(dir, "gone-copy.txt")
		catalogtest.WriteFiles(t, dir, map[string]string{
			"have.jpg":      strings.Repeat("photo ", 500),
			"fresh.jpg":     "never catalogued",
			"gone-copy.txt": "inside only", // only in an archive entry
		})
		missing := filepath.Join(dir, "missing.jpg")
		var got []dto.LookupResult
		// From a machine without files in the catalog: every place is elsewhere.
		err := s.Lookup(context.Background(), []string{have, fresh, missing, dir, onlyGone}, service.LookupOptions{Machine: "here"}, func(r dto.LookupResult) error {
			got = append(got, r)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 5 {
			t.Fatalf("%d results, want 5", len(got))
		}
		m1, m2 := s.Roots[catalogtest.M1], s.Roots[catalogtest.M2]
		zip := filepath.Join(m2, "docs", "old.zip")
		sum := sha256.Sum256([]byte(strings.Repeat("photo ", 500)))
		other := dto.CheckOtherMachine
		// link.jpg is a hard link of photo1.jpg: two names of one copy.
		want := dto.LookupResult{File: have, SHA256: hex.EncodeToString(sum[:]), Size: 3000, Found: true, Copies: 5, Locations: []dto.Location{
			{Machine: "m1", Path: filepath.Join(m1, "a", "photo1-copy.JPG"), Check: other},
			{Machine: "m1", Path: filepath.Join(m1, "a", "photo1.jpg"), Check: other, Link: 1},
			{Machine: "m1", Path: filepath.Join(m1, "b", "deep", "x.jpg"), Check: other},
			{Machine: "m1", Path: filepath.Join(m1, "b", "link.jpg"), Check: other, Link: 1},
			{Machine: "m2", Path: zip, ArchivePath: "2019/photo1.jpg", Check: other},
			{Machine: "m2", Path: filepath.Join(m2, "photos", "photo1.jpg"), Check: other},
		}}
		if !reflect.DeepEqual(got[0], want) {
			t.Errorf("have.jpg:\n got %+v\nwant %+v", got[0], want)
		}
		if got[1].Found || len(got[1].Locations) != 0 || got[1].Error != "" || got[1].SHA256 == "" {
			t.Errorf("fresh.jpg: %+v, want hashed and not found", got[1])
		}
		for i, name := range []string{missing, dir} {
			r := got[2+i]
			if r.Found || r.Error == "" || !strings.Contains(r.Error, name) {
				t.Errorf("%s: %+v, want an error naming it", name, r)
			}
		}
		if !strings.Contains(got[3].Error, "directory") {
			t.Errorf("directory error %q does not say so", got[3].Error)
		}
		if !got[4].Found || len(got[4].Locations) != 1 || got[4].Locations[0].ArchivePath != "readme.md" {
			t.Errorf("archive-only content: %+v", got[4])
		}
	})
}

func TestLookupDeletedIsNotFound(t *testing.T) {
	s := catalogtest.Sample(t)
	dir := t.TempDir()
	// "hello\n" is also in present files; only the DEL row must be left out.
	catalogtest.WriteFiles(t, dir, map[string]string{"h.txt": "hello\n"})
	err := s.Lookup(context.Background(), []string{filepath.Join(dir, "h.txt")}, service.LookupOptions{Machine: "here"}, func(r dto.LookupResult) error {
		for _, l := range r.Locations {
			if strings.HasSuffix(l.Path, "gone.txt") {
				t.Errorf("deleted %s listed", l.Path)
			}
		}
		if len(r.Locations) != 3 {
			t.Errorf("%d locations, want 3: %+v", len(r.Locations), r.Locations)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestStatsEqualWhatTheFilesSay(t *testing.T) {
	catalogtest.EachSample(t, func(t *testing.T, s *catalogtest.SampleCatalog) {
		got, err := s.Stats(context.Background(), 5)
		if err != nil {
			t.Fatal(err)
		}
		var want dto.Stats
		machines := map[string]*dto.MachineStats{}
		exts := map[string]*dto.ExtensionStats{}
		contents := map[[32]byte]bool{}
		for _, e := range s.Entries {
			m := machines[e.Machine]
			if m == nil {
				m = &dto.MachineStats{Machine: e.Machine}
				machines[e.Machine] = m
			}
			switch {
			case e.Deleted:
				want.Deleted++
				m.Deleted++
				continue
			case e.Archived:
				want.ArchiveEntries++
			default:
				want.Files++
				want.Bytes += int64(len(e.Content))
				m.Files++
				m.Bytes += int64(len(e.Content))
				ext := ""
				if base := filepath.Base(e.Path); strings.LastIndex(base, ".") > 0 {
					ext = strings.ToLower(base[strings.LastIndex(base, ".")+1:])
				}
				x := exts[ext]
				if x == nil {
					x = &dto.ExtensionStats{Extension: ext}
					exts[ext] = x
				}
				x.Files++
				x.Bytes += int64(len(e.Content))
			}
			contents[sha256.Sum256(e.Content)] = true
		}
		want.Contents = int64(len(contents))
		for _, g := range s.ExpectDupes(t, service.StatsDupes) {
			want.DuplicateGroups++
			want.DuplicateFiles += int64(len(g.Files))
			want.ReclaimableBytes += g.Reclaimable
		}
		for _, name := range []string{"m1", "m2"} {
			want.Machines = append(want.Machines, *machines[name])
		}
		for _, x := range exts {
			want.Extensions = append(want.Extensions, *x)
		}
		sort.Slice(want.Extensions, func(i, j int) bool {
			a, b := want.Extensions[i], want.Extensions[j]
			if a.Bytes != b.Bytes {
				return a.Bytes > b.Bytes
			}
			return a.Extension < b.Extension
		})
		want.Extensions = want.Extensions[:service.TopExtensions]
		// The last scan is m1's, which found gone.txt gone; newest first.
		if len(got.Scans) == 0 || got.Scans[0].Machine != "m1" || got.Scans[0].Status != dto.ScanComplete {
			t.Errorf("scans %+v, want m1's last", got.Scans)
		}
		for i := 1; i < len(got.Scans); i++ {
			if got.Scans[i].Started.After(got.Scans[i-1].Started) {
				t.Errorf("scans not newest first: %+v", got.Scans)
			}
		}
		got.Scans = nil
		if !reflect.DeepEqual(got, want) {
			t.Errorf("stats\n got %+v\nwant %+v", got, want)
		}
		if want.DuplicateGroups < 4 || len(want.Extensions) < service.TopExtensions {
			t.Fatalf("the fixture proves little: %+v", want)
		}
	})
}

func TestStatsScans(t *testing.T) {
	c := catalogtest.MustOpen(t)
	ctx := context.Background()
	start := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	err := c.UoW().Do(ctx, "scans", func(ctx context.Context, r *uow.Repos) error {
		for i := range 7 {
			sc := dto.Scan{Machine: "m", Roots: []string{"/r"}, Started: start.Add(time.Duration(i) * time.Hour)}
			id, err := r.Scans.Create(ctx, sc)
			if err != nil {
				return err
			}
			if i == 6 {
				break // the newest is still running
			}
			sc.ID, sc.Finished, sc.Status = id, sc.Started.Add(time.Duration(i+1)*time.Minute), dto.ScanComplete
			sc.FilesSeen = int64(i)
			if err := r.Scans.Finish(ctx, sc); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.Stats(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Scans) != 3 {
		t.Fatalf("%d scans, want 3", len(st.Scans))
	}
	if s := st.Scans[0]; s.Status != dto.ScanRunning || s.Finished != nil || s.DurationMS != 0 {
		t.Errorf("newest scan %+v, want running", s)
	}
	if s := st.Scans[1]; s.Status != dto.ScanComplete || s.DurationMS != 6*60*1000 || s.FilesSeen != 5 {
		t.Errorf("second scan %+v, want complete in 6m with 5 files", s)
	}
	if st.Files != 0 || len(st.Machines) != 0 || len(st.Extensions) != 0 {
		t.Errorf("empty catalog: %+v", st)
	}
}
