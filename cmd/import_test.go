package cmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/dto"
)

// TestImportRoundTrip imports what export wrote, into another catalog, and
// exports it again: the same lines, names with a backslash and a line break
// included. A *sum file gives no size; hashdeep does.
func TestImportRoundTrip(t *testing.T) {
	_, db := exportTree(t, oddNames)
	for _, format := range []string{"sha256sum", "md5sum", "sha1sum", "hashdeep"} {
		t.Run(format, func(t *testing.T) {
			names := oddNames
			wantCode := 0
			if format == "hashdeep" {
				wantCode = ExitPartial // the name with a line feed is left out
				names = nil
				for _, n := range oddNames {
					if !strings.Contains(n, "\n") {
						names = append(names, n)
					}
				}
			}
			file, _ := exportTo(t, wantCode, "--db", db, "--format", format)
			db2 := filepath.Join(t.TempDir(), "c2.db")
			code, out, errOut := runCLI(t, "--db", db2, "--machine", "usb", "--json", "import", file)
			if code != 0 {
				t.Fatalf("import: exit %d: %s", code, errOut)
			}
			var res struct {
				Files  int `json:"files"`
				NoSize int `json:"no_size"`
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("import --json printed %q: %v", out, err)
			}
			wantNoSize := len(names)
			if format == "hashdeep" {
				wantNoSize = 0
			}
			if res.Files != len(names) || res.NoSize != wantNoSize {
				t.Errorf("import %s: %s; want %d files, %d without size", format, out, len(names), wantNoSize)
			}
			again, _ := exportTo(t, 0, "--db", db2, "--machine", "usb", "--format", format)
			a, _ := os.ReadFile(file)
			b, _ := os.ReadFile(again)
			if format == "hashdeep" { // the comment lines name the directory
				a, b = a[strings.Index(string(a), "##\n"):], b[strings.Index(string(b), "##\n"):]
			}
			if string(a) != string(b) {
				t.Errorf("exported again:\n%q\nwant\n%q", b, a)
			}
		})
	}
}

// TestImportCompletesFromCatalog: a sha256sum line whose content the
// catalog holds takes its size and md5 and sha1.
func TestImportCompletesFromCatalog(t *testing.T) {
	dir, db := exportTree(t, []string{"a", "b"})
	file, _ := exportTo(t, 0, "--db", db, "--format", "sha256sum")
	if code, _, errOut := runCLI(t, "--db", db, "--machine", "usb", "import", file); code != 0 {
		t.Fatal(errOut)
	}
	code, out, _ := runCLI(t, "--db", db, "--machine", "usb", "export")
	if code != 0 {
		t.Fatal(out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e dto.Exported
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		if e.MD5 == "" || e.SHA1 == "" || e.Size == 0 || e.Inode != 0 || e.MtimeNS != 0 || e.ScanID != 0 ||
			!strings.HasPrefix(e.Path, dir) {
			t.Errorf("imported row %+v: want size and all digests, no validators", e)
		}
	}
}

// TestImportThenScanReadsOnce: imported rows carry no validators, so a scan
// of their paths reads each file once, and the next reads none.
func TestImportThenScanReadsOnce(t *testing.T) {
	dir, db := exportTree(t, oddNames)
	file, _ := exportTo(t, 0, "--db", db, "--format", "sha256sum")
	db2 := filepath.Join(t.TempDir(), "c2.db")
	if code, _, errOut := runCLI(t, "--db", db2, "--machine", "here", "import", file); code != 0 {
		t.Fatal(errOut)
	}
	scan := func() dto.ScanResult {
		t.Helper()
		code, out, errOut := runCLI(t, "--db", db2, "--machine", "here", "--json", "scan", "-q", dir)
		if code != 0 {
			t.Fatalf("scan: exit %d: %s", code, errOut)
		}
		var r dto.ScanResult
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%q: %v", out, err)
		}
		return r
	}
	var total int64
	for i, n := range oddNames {
		total += int64(len(n) * (i + 1)) // what exportTree wrote
	}
	// A file modified less than the scan's racy window (100 ms) before it is
	// read is read again by the next scan, rightly: wait that out.
	time.Sleep(150 * time.Millisecond)
	first := scan()
	if first.Added != 0 || first.Modified != 0 || first.Unchanged != int64(len(oddNames)) || first.BytesHashed != total {
		t.Errorf("first scan after import: %+v; want every file read once (%d bytes), the same content", first.ScanCounts, total)
	}
	second := scan()
	if second.Unchanged != int64(len(oddNames)) || second.BytesHashed != 0 {
		t.Errorf("second scan: %+v; want every file unchanged, nothing read", second.ScanCounts)
	}
}

// TestImportRefusesMalformed: a bad line anywhere, or a relative name
// without --base, and nothing is written.
func TestImportRefusesMalformed(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "c.db")
	good := strings.Repeat("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  /x/empty\n", 1)
	for name, body := range map[string]string{
		"bad digest":   good + "zz  /x/y\n",
		"relative":     good + "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  rel/y\n",
		"bad escape":   good + `\e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  /x/\t` + "\n",
		"hashdeep col": "%%%% HASHDEEP-1.0\n%%%% size,md5,filename\n12,abc,/x/y\n",
	} {
		file := filepath.Join(dir, "sums")
		os.WriteFile(file, []byte(body), 0o644)
		code, _, errOut := runCLI(t, "--db", db, "--machine", "usb", "import", file)
		if code != ExitError || !strings.Contains(errOut, "cannot be imported") || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%s: exit %d, stderr %q; want one sentence refusing it", name, code, errOut)
		}
		if _, out, _ := runCLI(t, "--db", db, "find"); out != "" {
			t.Errorf("%s: the catalog holds %q after a refused import", name, out)
		}
	}
	file := filepath.Join(dir, "rel")
	os.WriteFile(file, []byte("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 *rel/y\n"), 0o644)
	if code, _, errOut := runCLI(t, "--db", db, "--machine", "usb", "import", "--base", "/media/usb", file); code != 0 {
		t.Fatal(errOut)
	}
	if _, out, _ := runCLI(t, "--db", db, "find", "--format", "paths", "--machine", "usb"); out != "/media/usb/rel/y\n" {
		t.Errorf("import --base: find prints %q", out)
	}
	if code, _, _ := runCLI(t, "--db", db, "import", file); code != ExitUsage {
		t.Errorf("import without --machine: exit %d, want %d", code, ExitUsage)
	}
}
