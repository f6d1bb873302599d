package web_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScanProgressEventsCarryTotalsETAAndSlowFile scans a tree holding a
// large sparse file over the API and follows its progress events until one
// carries the count of the roots (total files and bytes), an ETA, and the
// large file as the slow read with its share read; then it cancels the scan,
// which still ends with done.
func TestScanProgressEventsCarryTotalsETAAndSlowFile(t *testing.T) {
	f := newFixture(t, "")
	tree := filepath.Join(t.TempDir(), "big")
	writeTree(t, tree, map[string]string{"a.txt": "a", "sub/b.txt": "bb", "sub/c.txt": "ccc"})
	big := filepath.Join(tree, "disk.img")
	const bigSize = 64 << 30 // sparse: takes no space, but minutes to hash
	fh, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := fh.Truncate(bigSize); err != nil {
		t.Fatal(err)
	}
	fh.Close()

	status, b := f.do("POST", "/api/scans", map[string]any{"roots": []string{tree}})
	if status != http.StatusAccepted {
		t.Fatalf("POST /api/scans: %d %s", status, b)
	}
	var started struct{ ID int64 }
	decode(t, b, &started)
	events := "/api/scans/" + fmt.Sprint(started.ID) + "/events"
	req, _ := http.NewRequestWithContext(t.Context(), "GET", f.ts.URL+events, nil)
	resp, err := f.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()

	type progress struct {
		Counted    bool   `json:"counted"`
		TotalFiles int64  `json:"total_files"`
		TotalBytes int64  `json:"total_bytes"`
		ETA        *int64 `json:"eta_ms"`
		Slow       *struct {
			Path    string  `json:"path"`
			Size    int64   `json:"size"`
			Read    int64   `json:"bytes_read"`
			Percent float64 `json:"percent"`
			Elapsed int64   `json:"elapsed_ms"`
		} `json:"slow"`
	}
	var last string
	found := false
	sc := bufio.NewScanner(resp.Body)
	name := ""
	for !found && sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "event: "); ok {
			name = v
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok || name != "progress" {
			if name == "done" {
				t.Fatalf("the scan ended before a progress event named the slow file: last progress %s", last)
			}
			continue
		}
		last = data
		var p progress
		if err := json.Unmarshal([]byte(data), &p); err != nil {
			t.Fatalf("progress %s: %v", data, err)
		}
		if !p.Counted || p.Slow == nil || p.ETA == nil {
			continue
		}
		found = true
		if p.TotalFiles != 4 || p.TotalBytes != bigSize+6 {
			t.Errorf("totals %d files, %d bytes; want 4 and %d", p.TotalFiles, p.TotalBytes, bigSize+6)
		}
		if p.Slow.Path != big || p.Slow.Size != bigSize || p.Slow.Read <= 0 || p.Slow.Elapsed < 1000 ||
			p.Slow.Percent != 100*float64(p.Slow.Read)/bigSize {
			t.Errorf("slow read %+v; want %s, its size, what is read and its share", *p.Slow, big)
		}
		if *p.ETA <= 0 {
			t.Errorf("eta_ms %d, want a positive estimate", *p.ETA)
		}
	}
	if !found {
		t.Fatalf("no progress event with totals, an ETA and the slow file; last %s", last)
	}
	if status, b := f.do("DELETE", "/api/scans/"+fmt.Sprint(started.ID), nil); status != http.StatusOK {
		t.Fatalf("DELETE: %d %s", status, b)
	}
	if evs := readEvents(t, f, events, ""); len(evs) == 0 || evs[len(evs)-1].name != "done" {
		t.Errorf("the canceled scan's stream does not end with done: %v", evs)
	}
}
