package cmd

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/indexer/indexer/internal/archive"
)

func TestScanArchiveFlags(t *testing.T) {
	for _, c := range []struct {
		name string
		f    scanFlags
		on   bool
		want archive.Limits
		err  string
	}{
		{"defaults", scanFlags{archiveDepth: 1, archiveBytes: "16GiB", archiveEntries: 1_000_000, archiveRatio: 1000},
			true, archive.Limits{MaxTotalBytes: 16 << 30, MaxEntries: 1_000_000, MaxRatio: 1000, MaxDepth: 1}, ""},
		{"zero is no limit", scanFlags{archiveDepth: 2, archiveBytes: "0"},
			true, archive.Limits{MaxTotalBytes: -1, MaxEntries: -1, MaxRatio: -1, MaxDepth: 2}, ""},
		{"SI sizes", scanFlags{archiveDepth: 1, archiveBytes: "500MB", archiveEntries: 10, archiveRatio: 50},
			true, archive.Limits{MaxTotalBytes: 500e6, MaxEntries: 10, MaxRatio: 50, MaxDepth: 1}, ""},
		{"--no-archives", scanFlags{noArchives: true, archiveDepth: 3, archiveBytes: "nonsense"}, false, archive.Limits{}, ""},
		{"depth 0 is off", scanFlags{archiveDepth: 0, archiveBytes: "1GiB"}, false, archive.Limits{}, ""},
		{"bad size", scanFlags{archiveDepth: 1, archiveBytes: "lots"}, false, archive.Limits{}, `--archive-max-bytes "lots" is not a size`},
		{"negative depth", scanFlags{archiveDepth: -1, archiveBytes: "1GiB"}, false, archive.Limits{}, "--archive-depth must be 1 or more"},
		{"negative ratio", scanFlags{archiveDepth: 1, archiveBytes: "1GiB", archiveRatio: -2}, false, archive.Limits{}, "must be 0 (no limit) or more"},
	} {
		on, lim, err := c.f.archiveOptions()
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil || on != c.on || lim != c.want {
			t.Errorf("%s: %v %+v %v, want %v %+v", c.name, on, lim, err, c.on, c.want)
		}
	}
}

// TestScanCommandArchives runs the scan command: entries are indexed by
// default, an encrypted entry is listed as not indexed, and a bomb stopped by
// a limit given on the command line fails the scan with exit status 3.
func TestScanCommandArchives(t *testing.T) {
	root := t.TempDir()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.CreateRaw(&zip.FileHeader{Name: "secret.txt", Method: zip.Store, Flags: 0x1, CompressedSize64: 4, UncompressedSize64: 4})
	w.Write([]byte("????"))
	w, _ = zw.Create("clear.txt")
	w.Write([]byte("clear\n"))
	zw.Close()
	if err := os.WriteFile(filepath.Join(root, "a.zip"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(t.TempDir(), "index.db")
	scan := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		cmd, _ := NewRoot(&out, &errb)
		code := run(context.Background(), cmd, append([]string{"--db", dbPath, "--machine", "m", "scan", "-q"}, args...), &errb)
		return code, out.String() + errb.String()
	}
	code, out := scan(root)
	if code != ExitOK || !strings.Contains(out, "2 added") ||
		!strings.Contains(out, "not indexed in archives:\n  "+filepath.Join(root, "a.zip")+"::secret.txt: encrypted\n") {
		t.Errorf("exit %d:\n%s", code, out)
	}

	buf.Reset()
	zw = zip.NewWriter(&buf)
	w, _ = zw.Create("zeros")
	w.Write(make([]byte, 8<<20))
	zw.Close()
	if err := os.WriteFile(filepath.Join(root, "bomb.zip"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out = scan("--json", "--archive-max-bytes", "2MiB", root)
	var rep struct {
		Failures []struct{ Path, Error string }
	}
	if err := json.Unmarshal([]byte(out[:strings.LastIndex(out, "}")+1]), &rep); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if code != ExitPartial || len(rep.Failures) != 1 || rep.Failures[0].Path != filepath.Join(root, "bomb.zip") ||
		!strings.Contains(rep.Failures[0].Error, "exceeds the limit of 2.0 MiB uncompressed per archive") {
		t.Errorf("exit %d: %s", code, out)
	}

	code, out = scan("--no-archives", "--rehash", root)
	if code != ExitOK {
		t.Errorf("--no-archives: exit %d: %s", code, out)
	}
}
