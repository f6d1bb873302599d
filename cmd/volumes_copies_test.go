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

// TestVolumeIsNeverTwoCopiesOfItself is review 2's first finding, on both
// engines: a drive scanned with --volume, then by a plain scan of its mount
// point, then by a walk from the directory above it, then by --no-volume
// (its files now also rows of the host), never lists one of its files as
// two copies of itself in dupes, dupes --dirs or lookup; the walk from
// above does not enter the drive, says why, and marks nothing DEL.
func TestVolumeIsNeverTwoCopiesOfItself(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			img := volumetest.Image(t, "ext4", "KNOWN")
			db := filepath.Join(t.TempDir(), "index.db")
			if engine == "postgres" {
				db = pgtest.URL(t)
			}
			cli := func(args ...string) (int, string, string) {
				t.Helper()
				return runCLI(t, append([]string{"--db", db}, args...)...)
			}
			m, unplug := volumetest.Mount(t, img, "m")
			for name, data := range map[string]string{"d/f1": "d1", "d/f2": "d2"} {
				if err := os.MkdirAll(filepath.Join(m, filepath.Dir(name)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(m, name), []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(200 * time.Millisecond) // out of the scan's racy window
			noDupes := func(when string) {
				t.Helper()
				if code, out, stderr := cli("dupes"); code != ExitOK || out != "no duplicates\n" {
					t.Errorf("dupes %s: exit %d, %q%s", when, code, out, stderr)
				}
				code, out, stderr := cli("--json", "dupes", "--dirs")
				var got struct {
					Groups []struct {
						Reclaimable int64 `json:"reclaimable"`
					} `json:"groups"`
				}
				if err := json.Unmarshal([]byte(out), &got); err != nil || code != ExitOK {
					t.Fatalf("dupes --dirs --json %s: exit %d, %v: %s%s", when, code, err, out, stderr)
				}
				for _, g := range got.Groups {
					if g.Reclaimable != 0 {
						t.Errorf("dupes --dirs %s: the drive's directory is two copies of itself: %s", when, out)
					}
				}
			}
			if code, out, stderr := cli("scan", "-q", "--volume", m); code != ExitOK || !strings.Contains(out, "volume KNOWN (ext4, ") {
				t.Fatalf("scan --volume: exit %d: %s%s", code, out, stderr)
			}
			// A plain scan of a drive the catalog knows records it as the
			// volume, though ext4 on a loop device is not external.
			if code, out, stderr := cli("scan", "-q", m); code != ExitOK || !strings.Contains(out, "volume KNOWN (ext4, ") ||
				!strings.Contains(out, "0 added, 0 modified, 0 deleted, 2 unchanged") {
				t.Errorf("plain scan of the known drive: exit %d: %s%s", code, out, stderr)
			}
			noDupes("after a plain scan")

			// A walk from the directory above does not enter it, and says so.
			above := filepath.Dir(m)
			code, out, stderr := cli("scan", "-q", above)
			if code != ExitOK || !strings.Contains(out, "recorded as volume KNOWN; scan it by its mount point") ||
				!strings.Contains(stderr, "recorded as volume KNOWN") || !strings.Contains(out, "0 added") {
				t.Errorf("scan of the directory above: exit %d: %s%s", code, out, stderr)
			}
			noDupes("after a scan from above")

			// --no-volume makes them rows of the host too: still one copy.
			if code, out, stderr := cli("scan", "-q", "--no-volume", m); code != ExitOK || !strings.Contains(out, "2 added") {
				t.Fatalf("scan --no-volume: exit %d: %s%s", code, out, stderr)
			}
			noDupes("with host rows of the drive")
			other := filepath.Join(t.TempDir(), "f1")
			if err := os.WriteFile(other, []byte("d1"), 0o644); err != nil {
				t.Fatal(err)
			}
			if code, out, _ := cli("lookup", other); code != ExitOK || !strings.HasPrefix(out, other+": found in 1 place (2 names)\n") {
				t.Errorf("lookup: exit %d, %q, want one place", code, out)
			}
			// The walk from above leaves the host's rows of the drive be.
			if code, out, stderr := cli("scan", "-q", above); code != ExitOK || !strings.Contains(out, " 0 deleted") {
				t.Errorf("scan of the directory above with host rows of the drive: exit %d: %s%s", code, out, stderr)
			}
			// Unplugged, the host's rows of the drive name where it was:
			// still one copy.
			unplug()
			if code, out, stderr := cli("dupes"); code != ExitOK || out != "no duplicates\n" {
				t.Errorf("dupes with the drive unplugged: exit %d, %q%s", code, out, stderr)
			}
			code, out, _ = cli("--json", "find", "--machine", hostname(), "f1")
			var found []dto.Found
			if err := json.Unmarshal([]byte(out), &found); err != nil || code != ExitOK || len(found) != 1 || found[0].Path != filepath.Join(m, "d", "f1") {
				t.Errorf("the host's row of f1: exit %d, %v: %s", code, err, out)
			}
		})
	}
}
