package cmd

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"

	"github.com/indexer/indexer/internal/dto"
)

// rootsJSON is how every JSON output carries a list of scan roots: "roots"
// as strings and, when one of them is not UTF-8, "roots_b64" beside it.
type rootsJSON struct {
	Roots    []string `json:"roots"`
	RootsB64 []string `json:"roots_b64"`
}

// decode reads each root back as the README says to read a path.
func (r rootsJSON) decode(t *testing.T) []string {
	t.Helper()
	if r.RootsB64 != nil && len(r.RootsB64) != len(r.Roots) {
		t.Fatalf("roots_b64 has %d entries for %d roots", len(r.RootsB64), len(r.Roots))
	}
	out := make([]string, len(r.Roots))
	for i, s := range r.Roots {
		b64 := ""
		if r.RootsB64 != nil {
			b64 = r.RootsB64[i]
		}
		p, err := dto.DecodePath(s, b64)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = p
	}
	return out
}

// TestRootsJSONKeepTheirBytes scans a root whose name is not UTF-8 and a
// plain one, and reads both back byte for byte from the scan's --json summary
// from stats --json last_scans[].roots and from health --json's last scan.
func TestRootsJSONKeepTheirBytes(t *testing.T) {
	dir := t.TempDir()
	odd := filepath.Join(dir, "caf\xe9-\xff")
	plain := filepath.Join(dir, "plain")
	writeTree(t, odd, map[string]string{"a.txt": "a"})
	writeTree(t, plain, map[string]string{"b.txt": "b"})
	db := filepath.Join(dir, "c.db")
	want := []string{odd, plain}

	code, out, errOut := runIndexer(t, context.Background(), "--db", db, "--json", "scan", "-q", odd, plain)
	if code != 0 {
		t.Fatalf("scan: exit %d: %s", code, errOut)
	}
	var sum rootsJSON
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatal(err)
	}
	if got := sum.decode(t); !slices.Equal(got, want) {
		t.Errorf("scan --json roots read back as %q, want %q\n%s", got, want, out)
	}

	code, out, errOut = runIndexer(t, context.Background(), "--db", db, "stats", "--json")
	if code != 0 {
		t.Fatalf("stats: exit %d: %s", code, errOut)
	}
	var st struct {
		Scans []rootsJSON `json:"last_scans"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Scans) != 1 {
		t.Fatalf("stats lists %d scans, want 1:\n%s", len(st.Scans), out)
	}
	if got := st.Scans[0].decode(t); !slices.Equal(got, want) {
		t.Errorf("stats --json last_scans[0].roots read back as %q, want %q\n%s", got, want, out)
	}

	code, out, errOut = runIndexer(t, context.Background(), "--db", db, "health", "--json")
	if code != 0 {
		t.Fatalf("health: exit %d: %s", code, errOut)
	}
	var h struct {
		Facts struct {
			LastScan rootsJSON `json:"last_scan"`
		} `json:"facts"`
	}
	if err := json.Unmarshal([]byte(out), &h); err != nil {
		t.Fatal(err)
	}
	if got := h.Facts.LastScan.decode(t); !slices.Equal(got, want) {
		t.Errorf("health --json facts.last_scan.roots read back as %q, want %q\n%s", got, want, out)
	}

	// Plain roots carry no roots_b64 at all.
	code, out, errOut = runIndexer(t, context.Background(), "--db", filepath.Join(dir, "d.db"), "--json", "scan", "-q", plain)
	if code != 0 {
		t.Fatalf("scan: exit %d: %s", code, errOut)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatal(err)
	}
	if _, ok := raw["roots_b64"]; ok {
		t.Errorf("a UTF-8 root got roots_b64: %s", out)
	}
}
