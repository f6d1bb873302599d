package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dbtest"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/service"
	"github.com/indexer/indexer/internal/uow"
)

// runCLI runs the command line with args as main would, capturing its output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	for _, v := range []string{"INDEXER_DB", "INDEXER_MACHINE", "INDEXER_BUSY_TIMEOUT", "INDEXER_BUSY_RETRIES", "INDEXER_READ_CONNS", "INDEXER_CONN_MAX_LIFETIME"} {
		t.Setenv(v, "")
	}
	var out, errb bytes.Buffer
	root, _ := NewRoot(&out, &errb)
	code = run(t.Context(), root, args, &errb)
	return code, out.String(), errb.String()
}

func healthJSON(t *testing.T, stdout string) dto.Health {
	t.Helper()
	var h dto.Health
	if err := json.Unmarshal([]byte(stdout), &h); err != nil {
		t.Fatalf("health --json printed %q: %v", stdout, err)
	}
	return h
}

// newCatalog creates a catalog at path the way any command would, with files
// rows, and closes it.
func newCatalog(t *testing.T, path string, files int) {
	t.Helper()
	c, err := service.Open(t.Context(), path, db.DefaultOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if files > 0 {
		paths := make([]string, files)
		for i := range paths {
			paths[i] = fmt.Sprintf("/home/user/documents/project-%03d/file-%05d.txt", i%100, i)
		}
		dbtest.Fill(t, c.DB(), paths)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestHealthFreshCatalog(t *testing.T) {
	// In a directory indexer creates, private: t.TempDir is 0755.
	path := filepath.Join(t.TempDir(), "cat", "index.db")
	newCatalog(t, path, 0)

	code, stdout, stderr := runCLI(t, "health", "--json", "--db", path)
	if code != ExitOK || stderr != "" {
		t.Errorf("exit %d, stderr %q; want 0 and nothing", code, stderr)
	}
	h := healthJSON(t, stdout)
	if h.Status != dto.StatusOK || h.Path != path {
		t.Errorf("status %q, path %q; want ok, %q", h.Status, h.Path, path)
	}
	var names []string
	for _, c := range h.Checks {
		names = append(names, c.Name)
		if c.Status != dto.StatusOK {
			t.Errorf("check %s = %s (%s); want ok", c.Name, c.Status, c.Detail)
		}
	}
	for _, want := range []string{"open", "schema", "journal_mode", "quick_check", "foreign_keys", "latency", "pools", "counts", "last_scan", "size", "permissions"} {
		if !slices.Contains(names, want) {
			t.Errorf("checks %v lack %s", names, want)
		}
	}
	if v, ok := h.Facts["schema_version"].(float64); !ok || int(v) != db.LatestVersion() {
		t.Errorf("schema_version = %v; want %d", h.Facts["schema_version"], db.LatestVersion())
	}

	// The human form says the same, and exits the same.
	code, stdout, _ = runCLI(t, "health", "--db", path)
	if first, _, _ := strings.Cut(stdout, "\n"); code != ExitOK || first != "catalog "+path+": ok" {
		t.Errorf("human output %q, exit %d; want \"catalog %s: ok\", 0", first, code, path)
	}
}

// TestHealthWarnsReadableCatalog: health --json carries the permissions
// warning, and health still exits 0: a readable catalog works.
func TestHealthWarnsReadableCatalog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	newCatalog(t, path, 0)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "health", "--json", "--db", path)
	if code != ExitOK || stderr != "" {
		t.Errorf("exit %d, stderr %q; want 0 and nothing", code, stderr)
	}
	h := healthJSON(t, stdout)
	i := slices.IndexFunc(h.Checks, func(c dto.Check) bool { return c.Name == "permissions" })
	if i < 0 || h.Status != dto.StatusDegraded || h.Checks[i].Status != dto.StatusDegraded ||
		!strings.Contains(h.Checks[i].Detail, "can be read by other users") || h.Facts["catalog_mode"] != "0644" {
		t.Errorf("health of a world-readable catalog: %s", stdout)
	}
}

// corruptCopy copies the catalog at src to dst and lets damage overwrite
// bytes of the copy, given the offset of a page in the middle of the file.
func corruptCopy(t *testing.T, src, dst string, damage func(b []byte, mid int)) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096
	if len(b) < 20*page {
		t.Fatalf("catalog has %d bytes; want many pages to corrupt the middle", len(b))
	}
	damage(b, len(b)/2/page*page)
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestHealthCorruptedCatalog(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cat") // created private by newCatalog
	good := filepath.Join(dir, "good.db")
	newCatalog(t, good, 2000)
	if code, stdout, _ := runCLI(t, "health", "--json", "--db", good); code != ExitOK || healthJSON(t, stdout).Status != dto.StatusOK {
		t.Fatalf("the catalog before corruption: exit %d, %s", code, stdout)
	}

	damages := []struct {
		name   string
		damage func(b []byte, mid int)
	}{
		{"three pages of garbage", func(b []byte, mid int) {
			for i := mid; i < mid+3*4096; i++ {
				b[i] = byte(i*7) ^ 0x5a
			}
		}},
		{"cell pointers", func(b []byte, mid int) {
			// The first two cell pointers of the next b-tree leaf page.
			for ; mid+4096 <= len(b); mid += 4096 {
				if b[mid] == 0x0d || b[mid] == 0x0a {
					copy(b[mid+8:], []byte{0xff, 0xff, 0xff, 0xff})
					return
				}
			}
			t.Fatal("no leaf page")
		}},
	}
	for i, dm := range damages {
		bad := filepath.Join(dir, fmt.Sprintf("bad%d.db", i))
		corruptCopy(t, good, bad, dm.damage)
		for _, full := range []bool{false, true} {
			args, check := []string{"health", "--json", "--db", bad}, "quick_check"
			if full {
				args, check = append(args, "--full"), "integrity_check"
			}
			code, stdout, _ := runCLI(t, args...)
			h := healthJSON(t, stdout)
			if code != ExitError || h.Status != dto.StatusFail {
				t.Errorf("%s, full=%v: exit %d, status %q; want 1, fail", dm.name, full, code, h.Status)
			}
			i := slices.IndexFunc(h.Checks, func(c dto.Check) bool { return c.Name == check })
			if i < 0 || h.Checks[i].Status != dto.StatusFail {
				t.Errorf("%s, full=%v: checks %+v; want %s to fail", dm.name, full, h.Checks, check)
			} else if d := h.Checks[i].Detail; strings.Contains(d, "\n") || strings.Contains(d, "***") {
				t.Errorf("%s, full=%v: %s detail %q; want one plain sentence", dm.name, full, check, d)
			}
		}
	}
}

var notes = strings.Repeat("not a database\n", 300)

func TestHealthRefusesToCreate(t *testing.T) {
	tests := []struct {
		name    string
		rel     string
		setup   func(t *testing.T, path string)
		wantMsg string
		// lock is the lock file health may leave beside an existing file:
		// deleting a lock file others may hold would break the locking.
		lock string
	}{
		{"missing file", "index.db", nil, "indexer scan", ""},
		{"missing directory", "sub/dir/index.db", nil, "indexer scan", ""},
		{"not a database", "notes.txt", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte(notes), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "not an SQLite database", "notes.txt.lock"},
		{"empty file", "index.db", func(t *testing.T, path string) {
			if err := os.WriteFile(path, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "indexer scan", "index.db.lock"},
	}
	for _, tt := range tests {
		for _, jsonOut := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s json=%v", tt.name, jsonOut), func(t *testing.T) {
				root := t.TempDir()
				path := filepath.Join(root, tt.rel)
				if tt.setup != nil {
					tt.setup(t, path)
				}
				before := dbtest.ListTree(t, root)
				content, _ := os.ReadFile(path)
				args := []string{"health", "--db", path}
				if jsonOut {
					args = append(args, "--json")
				}
				code, stdout, _ := runCLI(t, args...)
				if code != ExitError {
					t.Errorf("exit %d; want 1", code)
				}
				if jsonOut {
					h := healthJSON(t, stdout)
					if h.Status != dto.StatusFail || len(h.Checks) == 0 || h.Checks[0].Name != "open" || !strings.Contains(h.Checks[0].Detail, tt.wantMsg) {
						t.Errorf("health = %+v; want status fail from the open check, saying %q", h, tt.wantMsg)
					}
				} else if !strings.Contains(stdout, ": fail") || !strings.Contains(stdout, tt.wantMsg) {
					t.Errorf("output %q; want it to say fail and %q", stdout, tt.wantMsg)
				}
				after := slices.DeleteFunc(dbtest.ListTree(t, root), func(p string) bool { return p == tt.lock })
				if !slices.Equal(after, before) {
					t.Errorf("health left %v; want %v", after, before)
				}
				if tt.setup != nil {
					if b, err := os.ReadFile(path); err != nil || string(b) != string(content) {
						t.Errorf("health changed %s: %v", path, err)
					}
				}
			})
		}
	}
}

// TestHealthLastScan checks that health shows the last scan with its
// transaction metrics, and that an unfinished one degrades the report without
// failing it: exit 0.
func TestHealthLastScan(t *testing.T) {
	tests := []struct {
		status     dto.ScanStatus
		wantStatus dto.CheckStatus
	}{
		{dto.ScanComplete, dto.StatusOK},
		{dto.ScanPartial, dto.StatusDegraded},
		{dto.ScanInterrupted, dto.StatusDegraded},
	}
	for _, tt := range tests {
		t.Run(string(tt.status), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cat", "index.db")
			c, err := service.Open(t.Context(), path, db.DefaultOptions(), nil)
			if err != nil {
				t.Fatal(err)
			}
			err = c.UoW().Do(t.Context(), "scan", func(ctx context.Context, r *uow.Repos) error {
				sc := dto.Scan{Machine: "m", Roots: []string{"/data"}, Started: time.Unix(1e9, 0)}
				id, err := r.Scans.Create(ctx, sc)
				if err != nil {
					return err
				}
				sc.ID, sc.Finished, sc.Status, sc.FilesSeen = id, time.Unix(1e9+60, 0), tt.status, 42
				sc.TxMetrics = &dto.TxMetrics{Ops: map[string]dto.OpMetrics{
					"batch": {Count: 7, Failures: map[string]int64{"busy": 1}, BusyRetries: 3, SlowestMS: 12.5},
				}}
				return r.Scans.Finish(ctx, sc)
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}

			code, stdout, _ := runCLI(t, "health", "--json", "--db", path)
			h := healthJSON(t, stdout)
			if code != ExitOK || h.Status != tt.wantStatus {
				t.Errorf("exit %d, status %q; want 0, %q", code, h.Status, tt.wantStatus)
			}
			i := slices.IndexFunc(h.Checks, func(c dto.Check) bool { return c.Name == "last_scan" })
			if i < 0 {
				t.Fatalf("no last_scan check in %+v", h.Checks)
			}
			got := h.Checks[i]
			for _, want := range []string{string(tt.status), "42 files", "batch 7 (failed 1, busy retries 3, slowest 12.5 ms)"} {
				if !strings.Contains(got.Detail, want) {
					t.Errorf("last_scan detail %q; want it to say %q", got.Detail, want)
				}
			}
			if got.Status != tt.wantStatus {
				t.Errorf("last_scan status %q; want %q", got.Status, tt.wantStatus)
			}
		})
	}
}
