package service

import (
	"archive/tar"
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/indexer/indexer/internal/archive/archivetest"
	"github.com/indexer/indexer/internal/dto"
)

// setMtime sets path's access and modification times to t. It calls
// utimensat with seconds and nanoseconds: os.Chtimes passes Unix nanoseconds
// in an int64, and cannot set a time after 2262.
func setMtime(tb testing.TB, path string, t time.Time) {
	tb.Helper()
	ts := unix.Timespec{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}
	if err := unix.UtimesNano(path, []unix.Timespec{ts, ts}); err != nil {
		tb.Fatal(err)
	}
}

// tarWithTimes packs one entry per name, with its time, in the PAX format,
// which keeps nanoseconds and times of any year.
func tarWithTimes(tb testing.TB, times map[string]time.Time) []byte {
	tb.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, mt := range times {
		data := []byte("entry " + name + "\n")
		h := &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data)),
			ModTime: mt, Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			tb.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			tb.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// modifiedTimes returns the modification time the catalog reports for every
// present row, keyed "PATH" or "PATH::INNER".
func modifiedTimes(tb testing.TB, c *Catalog) map[string]time.Time {
	tb.Helper()
	out := map[string]time.Time{}
	_, err := c.Find(context.Background(), FindOptions{MaxSize: -1, IncludeArchived: true}, func(f dto.FileWithHash) error {
		out[entryPath(f.Path, f.ArchivePath)] = f.Modified
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func checkTimes(tb testing.TB, got, want map[string]time.Time) {
	tb.Helper()
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			tb.Errorf("%s: no row", k)
			continue
		}
		if !g.Equal(w) {
			tb.Errorf("%s: modified %v, want %v", k, g.UTC(), w.UTC())
		}
	}
}

// TestScanRecordsEveryTimeExactly scans files and archive entries whose times
// lie at the epoch, before it, and beyond what Unix nanoseconds in an int64
// hold (after 2262-04-11, before 1677-09-21), and reads each back to the
// nanosecond, before and after an incremental rescan. An entry that records
// no time gets the archive's own, and only such an entry.
func TestScanRecordsEveryTimeExactly(t *testing.T) {
	root := t.TempDir()
	fileTimes := map[string]time.Time{
		"epoch":        time.Unix(0, 0),
		"before-epoch": time.Date(1969, 12, 31, 23, 59, 59, 500000000, time.UTC),
		"1901":         time.Date(1901, 12, 14, 0, 0, 0, 5, time.UTC),
		"2300":         time.Date(2300, 1, 1, 0, 0, 0, 1, time.UTC),
		// ext4 holds times up to 2446-05-10 22:38:55.
		"2446": time.Date(2446, 5, 10, 22, 38, 54, 123456789, time.UTC),
	}
	entryTimes := map[string]time.Time{
		"epoch.o":  time.Unix(0, 0),
		"2446.txt": time.Date(2446, 5, 10, 22, 38, 54, 123456789, time.UTC),
		"3000.txt": time.Date(3000, 1, 2, 3, 4, 5, 6, time.UTC),
		"1600.txt": time.Date(1600, 6, 7, 8, 9, 10, 11, time.UTC),
	}
	want := map[string]time.Time{}
	for name, mt := range fileTimes {
		p := filepath.Join(root, name)
		writeFile(t, p, []byte("file "+name+"\n"))
		setMtime(t, p, mt)
		want[p] = mt
	}
	tarPath := filepath.Join(root, "build.tar")
	writeFile(t, tarPath, tarWithTimes(t, entryTimes))
	tarTime := time.Date(2024, 2, 3, 4, 5, 6, 7, time.UTC)
	setMtime(t, tarPath, tarTime)
	want[tarPath] = tarTime
	for name, mt := range entryTimes {
		want[tarPath+EntrySeparator+name] = mt
	}
	// A RAR entry without a time: the archive's own is the best guess.
	rarPath := filepath.Join(root, "notime.rar")
	writeFile(t, rarPath, archivetest.Rar5([]archivetest.RarEntry{{Name: "n.txt", Data: []byte("no time\n")}}))
	rarTime := time.Date(2300, 7, 8, 9, 10, 11, 12, time.UTC)
	setMtime(t, rarPath, rarTime)
	want[rarPath] = rarTime
	want[rarPath+EntrySeparator+"n.txt"] = rarTime

	outOfRacyWindow() // so that the rescan trusts what this scan records
	c := openTestCatalog(t)
	rep := mustScan(t, c, []string{root}, ScanOptions{Archives: true})
	if rep.Status != dto.ScanComplete || rep.Counts.Added != int64(len(want)) {
		t.Fatalf("scan %s, %+v, failures %v; want %d added", rep.Status, rep.Counts, rep.Failures, len(want))
	}
	checkTimes(t, modifiedTimes(t, c), want)

	// The validators of every file match on a rescan: nothing is read again.
	rep = mustScan(t, c, []string{root}, ScanOptions{Archives: true})
	if rep.Counts.Unchanged != int64(len(want)) || rep.Counts.BytesHashed != 0 {
		t.Errorf("rescan: %+v; want all %d unchanged, nothing read", rep.Counts, len(want))
	}
	checkTimes(t, modifiedTimes(t, c), want)

	// A time moved by one nanosecond, beyond 2262, is seen and recorded.
	p := filepath.Join(root, "2300")
	moved := fileTimes["2300"].Add(time.Nanosecond)
	setMtime(t, p, moved)
	want[p] = moved
	rep = mustScan(t, c, []string{root}, ScanOptions{Archives: true})
	if rep.Counts.BytesHashed != int64(len("file 2300\n")) {
		t.Errorf("rescan after a new mtime read %d bytes, want %d", rep.Counts.BytesHashed, len("file 2300\n"))
	}
	checkTimes(t, modifiedTimes(t, c), want)
}
