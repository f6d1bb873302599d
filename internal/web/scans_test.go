package web_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// sseEvent is one parsed Server-Sent Event.
type sseEvent struct{ id, name, data string }

// readEvents reads a stream until done (or its end).
func readEvents(t *testing.T, f *fixture, path, lastID string) []sseEvent {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", f.ts.URL+path, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := f.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("GET %s: Content-Type %q", path, ct)
	}
	var out []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.name != "" {
				out = append(out, cur)
				if cur.name == "done" {
					return out
				}
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "id: "):
			cur.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			cur.name = line[7:]
		case strings.HasPrefix(line, "data: "):
			cur.data = line[6:]
		}
	}
	return out
}

// TestScanOverAPI: a scan started with POST runs in the server, a second one
// is refused with 409, its events end with done carrying what scan --json
// prints, a reconnect with Last-Event-ID resumes after that id, and the
// catalog's answers include the new files.
func TestScanOverAPI(t *testing.T) {
	f := newFixture(t, "")
	more := filepath.Join(t.TempDir(), "more")
	writeTree(t, more, map[string]string{"x/new.txt": "same content, three copies", "bad.txt": "unreadable"})
	if err := os.Chmod(filepath.Join(more, "bad.txt"), 0); err != nil {
		t.Fatal(err)
	}
	unreadable := os.Geteuid() != 0 // root reads everything

	status, b := f.do("POST", "/api/scans", map[string]any{"roots": []string{more}})
	if status != http.StatusAccepted {
		t.Fatalf("POST /api/scans: %d %s", status, b)
	}
	var started struct{ ID int64 }
	decode(t, b, &started)
	// A second scan while this one may still run: 409, or 202 once it ended.
	if status, b := f.do("POST", "/api/scans", map[string]any{"roots": []string{more}}); status != http.StatusConflict && status != http.StatusAccepted {
		t.Errorf("second POST /api/scans: %d %s; want 409 (or 202 after the first ended)", status, b)
	} else if status == http.StatusAccepted {
		readEvents(t, f, "/api/scans/"+fmt.Sprint(started.ID+1)+"/events", "")
	}

	evs := readEvents(t, f, fmt.Sprintf("/api/scans/%d/events", started.ID), "")
	if len(evs) < 2 || evs[0].name != "snapshot" || evs[len(evs)-1].name != "done" {
		t.Fatalf("events %v; want a snapshot first and done last", evs)
	}
	var done struct {
		ScanID   int64 `json:"scan_id"`
		Status   string
		Added    int64
		Failures []struct{ Path string }
	}
	decode(t, []byte(evs[len(evs)-1].data), &done)
	if done.ScanID != started.ID || done.Added < 1 {
		t.Errorf("done %+v; want scan %d with files added", done, started.ID)
	}
	if unreadable && (len(done.Failures) != 1 || done.Status != "partial") {
		t.Errorf("done %+v; want bad.txt failed and status partial", done)
	}
	var fails int
	for _, e := range evs {
		if e.name == "failure" {
			fails++
		}
	}
	if unreadable && fails != 1 {
		t.Errorf("%d failure events; want 1", fails)
	}
	// The recorded scans list it as the CLI does.
	var cliScans, apiScans any
	decode(t, f.cli("stats", "--json", "--scans", "3"), &cliScans)
	f.get("/api/scans?limit=3", &apiScans)
	sameJSON(t, "scans", apiScans, cliScans.(map[string]any)["last_scans"])

	// Resuming after the second-to-last id gives just done.
	resumed := readEvents(t, f, fmt.Sprintf("/api/scans/%d/events", started.ID), evs[len(evs)-2].id)
	if len(resumed) != 1 || resumed[0].name != "done" || resumed[0].data != evs[len(evs)-1].data {
		t.Errorf("resumed stream %v; want the done event only", resumed)
	}
	// A finished scan cannot be canceled.
	if status, _ := f.do("DELETE", fmt.Sprintf("/api/scans/%d", started.ID), nil); status != http.StatusConflict {
		t.Errorf("DELETE of a finished scan: %d; want 409", status)
	}
	var found struct{ Files []json.RawMessage }
	f.get("/api/find?name=new.txt", &found)
	if len(found.Files) != 1 {
		t.Errorf("find new.txt after the scan: %d rows; want 1", len(found.Files))
	}
}

// TestBackupRestoreOverAPI: a backup through the API, a change, then a
// restore of that backup: the next answers come from the restored catalog;
// a source outside the backups directory is refused.
func TestBackupRestoreOverAPI(t *testing.T) {
	f := newFixture(t, "")
	var before, after struct{ Files int64 }
	f.get("/api/stats", &before)
	status, b := f.do("POST", "/api/backup", nil)
	if status != http.StatusOK {
		t.Fatalf("POST /api/backup: %d %s", status, b)
	}
	var backup struct{ Path string }
	decode(t, b, &backup)
	if filepath.Dir(backup.Path) != filepath.Join(filepath.Dir(f.dbPath), "backups") {
		t.Errorf("backup written to %s; want the backups directory", backup.Path)
	}
	more := filepath.Join(t.TempDir(), "more")
	writeTree(t, more, map[string]string{"n1": "1", "n2": "2"})
	f.cli("--machine", "m1", "scan", "-q", more) // another "process" writes meanwhile
	f.get("/api/stats", &after)
	if after.Files != before.Files+2 {
		t.Fatalf("after a scan beside the server: %d files; want %d", after.Files, before.Files+2)
	}

	outside := filepath.Join(t.TempDir(), "copy.db")
	data, err := os.ReadFile(backup.Path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(outside, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if status, b := f.do("POST", "/api/restore", map[string]string{"source": outside}); status != http.StatusBadRequest {
		t.Errorf("restore from outside the backups directory: %d %s; want 400", status, b)
	}
	status, b = f.do("POST", "/api/restore", map[string]string{"source": backup.Path})
	if status != http.StatusOK {
		t.Fatalf("POST /api/restore: %d %s", status, b)
	}
	var res struct {
		Files        int64
		SafetyBackup string `json:"safety_backup"`
	}
	decode(t, b, &res)
	// The answers have the fields of the commands' --json.
	var apiRestore, cliRestore, apiBackup, cliBackup map[string]any
	decode(t, b, &apiRestore)
	decode(t, f.cli("restore", "--yes", "--json", backup.Path), &cliRestore)
	_, bb := f.do("POST", "/api/backup", nil)
	decode(t, bb, &apiBackup)
	decode(t, f.cli("backup", "--json"), &cliBackup)
	for _, c := range []struct {
		what     string
		api, cli map[string]any
	}{{"restore", apiRestore, cliRestore}, {"backup", apiBackup, cliBackup}} {
		if a, c2 := slices.Sorted(maps.Keys(c.api)), slices.Sorted(maps.Keys(c.cli)); !slices.Equal(a, c2) {
			t.Errorf("POST /api/%s answers the fields %v; %s --json prints %v", c.what, a, c.what, c2)
		}
	}
	var restored struct{ Files int64 }
	f.get("/api/stats", &restored)
	if restored.Files != before.Files {
		t.Errorf("after the restore: %d files; want %d", restored.Files, before.Files)
	}
}
