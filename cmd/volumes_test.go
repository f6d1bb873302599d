package cmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/pgtest"
	"github.com/indexer/indexer/internal/volume/volumetest"
)

// TestVolumeOffline is issue 18's drive that travels, on both engines: scanned
// at one place, unplugged, its files are found offline by find, dupes and
// lookup; plugged in elsewhere and scanned again, nothing changes, and they
// show where they are now.
func TestVolumeOffline(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			img := volumetest.Image(t, "ext4", "TRAVEL")
			db := filepath.Join(t.TempDir(), "index.db")
			if engine == "postgres" {
				db = pgtest.URL(t)
			}
			cli := func(args ...string) (int, string, string) {
				t.Helper()
				return runCLI(t, append([]string{"--db", db}, args...)...)
			}
			first, unplug := volumetest.Mount(t, img, "first")
			for name, data := range map[string]string{"a.txt": "alpha", "p/b.jpg": "bravo", "p/c.jpg": "bravo"} {
				if err := os.MkdirAll(filepath.Join(first, filepath.Dir(name)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(first, name), []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(200 * time.Millisecond) // out of the scan's racy window
			if code, _, stderr := cli("scan", "--volume", "--no-volume", first); code != ExitUsage || !strings.Contains(stderr, "contradict") {
				t.Errorf("scan --volume --no-volume: exit %d, %q", code, stderr)
			}
			code, out, stderr := cli("scan", "-q", "--volume", first)
			if code != ExitOK || !strings.Contains(out, "volume TRAVEL (ext4, ") {
				t.Fatalf("scan --volume: exit %d: %s%s", code, out, stderr)
			}
			unplug()

			code, out, _ = cli("find")
			for _, want := range []string{"[TRAVEL] /a.txt (offline)\n", "[TRAVEL] /p/b.jpg (offline)\n"} {
				if code != ExitOK || !strings.Contains(out, want) {
					t.Errorf("find while unplugged: exit %d, %q lacks %q", code, out, want)
				}
			}
			code, out, _ = cli("--json", "find", "a.txt")
			var found []dto.Found
			if err := json.Unmarshal([]byte(out), &found); err != nil || code != ExitOK || len(found) != 1 ||
				found[0].Volume == nil || found[0].Volume.Mounted || found[0].Volume.Label != "TRAVEL" || found[0].Path != "/a.txt" {
				t.Fatalf("find --json while unplugged: exit %d, %v: %s", code, err, out)
			}
			machine := found[0].Machine
			if code, out, _ := cli("dupes"); code != ExitOK || !strings.Contains(out, "  [TRAVEL] /p/b.jpg (offline)\n  [TRAVEL] /p/c.jpg (offline)\n") {
				t.Errorf("dupes while unplugged: exit %d, %q", code, out)
			}
			alpha := filepath.Join(t.TempDir(), "alpha.txt")
			if err := os.WriteFile(alpha, []byte("alpha"), 0o644); err != nil {
				t.Fatal(err)
			}
			if code, out, _ := cli("lookup", alpha); code != ExitOK || out != alpha+": found in 1 place\n  [TRAVEL] /a.txt (offline)\n" {
				t.Errorf("lookup while unplugged: exit %d, %q", code, out)
			}
			if code, out, stderr := cli("find", "--machine", machine, "--format", "paths"); code == ExitOK || !strings.Contains(stderr, "volume TRAVEL is not mounted") {
				t.Errorf("find --format paths while unplugged: exit %d, %q, %q; want a refusal", code, out, stderr)
			}
			code, out, _ = cli("--json", "volumes")
			var vols []dto.VolumeListing
			if err := json.Unmarshal([]byte(out), &vols); err != nil || code != ExitOK || len(vols) != 1 || vols[0].Mounted ||
				vols[0].Files != 3 || vols[0].Bytes != 15 || vols[0].Machine != machine || vols[0].LastMount != first {
				t.Errorf("volumes --json while unplugged: exit %d, %v: %s", code, err, out)
			}
			if code, out, _ := cli("volumes"); code != ExitOK || !strings.HasPrefix(out, "TRAVEL  ") || !strings.Contains(out, "  offline\n") {
				t.Errorf("volumes while unplugged: exit %d, %q", code, out)
			}

			second, _ := volumetest.Mount(t, img, "second")
			code, out, stderr = cli("scan", "-q", "--volume", second)
			if code != ExitOK || !strings.Contains(out, "3 files seen, 0 added, 0 modified, 0 deleted, 3 unchanged") {
				t.Errorf("rescan at another place: exit %d: %s%s", code, out, stderr)
			}
			if code, out, _ := cli("find", "a.txt"); code != ExitOK || !strings.Contains(out, "[TRAVEL] /a.txt ("+filepath.Join(second, "a.txt")+")\n") {
				t.Errorf("find while plugged in: exit %d, %q", code, out)
			}
			if code, out, _ := cli("find", "--machine", machine, "--format", "paths", "a.txt"); code != ExitOK || out != filepath.Join(second, "a.txt")+"\n" {
				t.Errorf("find --format paths while plugged in: exit %d, %q", code, out)
			}
			if code, out, _ := cli("volumes"); code != ExitOK || !strings.Contains(out, "  mounted at "+second+"\n") {
				t.Errorf("volumes while plugged in: exit %d, %q", code, out)
			}

			// The volumes go along with a backup (on PostgreSQL, a copy of
			// the rows into a SQLite file) and a restore.
			backup := filepath.Join(t.TempDir(), "backup.db")
			if code, _, stderr := cli("backup", backup); code != ExitOK {
				t.Fatalf("backup: exit %d: %s", code, stderr)
			}
			places := []string{backup}
			if engine == "postgres" {
				two := pgtest.URL(t)
				if code, _, stderr := runCLI(t, "--db", two, "restore", "--yes", backup); code != ExitOK {
					t.Fatalf("restore: exit %d: %s", code, stderr)
				}
				places = append(places, two)
			}
			for _, p := range places {
				code, out, _ := runCLI(t, "--db", p, "--json", "volumes")
				var vols []dto.VolumeListing
				if err := json.Unmarshal([]byte(out), &vols); err != nil || code != ExitOK || len(vols) != 1 ||
					vols[0].Machine != machine || vols[0].Label != "TRAVEL" || vols[0].Files != 3 || vols[0].LastMount != second {
					t.Errorf("volumes of %s: exit %d, %v: %s", p, code, err, out)
				}
			}
		})
	}
}
