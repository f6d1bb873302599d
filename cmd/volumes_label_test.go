package cmd

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/pgtest"
	"github.com/indexer/indexer/internal/volume/volumetest"
)

// TestVolumeSameLabelOtherDrive is review 2's second finding, on both
// engines: two drives with one label and no UUID. A plain scan does not
// record them as a volume (a label alone is no identity); --volume records
// the first with its fingerprint, and refuses the second, mounted at the
// same place, in one sentence, writing nothing: the first drive's files
// never become DEL.
func TestVolumeSameLabelOtherDrive(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			if _, err := exec.LookPath("tune2fs"); err != nil {
				t.Fatal("tune2fs (e2fsprogs) is needed")
			}
			one, two := volumetest.Image(t, "ext4", "SAME"), volumetest.Image(t, "ext4", "SAME")
			// Another size: the drives differ as two bought apart do.
			if err := os.Truncate(two, 24<<20); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-L", "SAME", two).CombinedOutput(); err != nil {
				t.Fatalf("mkfs.ext4: %v: %s", err, out)
			}
			for _, img := range []string{one, two} {
				if out, err := exec.Command("tune2fs", "-U", "clear", img).CombinedOutput(); err != nil {
					t.Fatalf("tune2fs -U clear: %v: %s", err, out)
				}
			}
			db := filepath.Join(t.TempDir(), "index.db")
			if engine == "postgres" {
				db = pgtest.URL(t)
			}
			cli := func(args ...string) (int, string, string) {
				t.Helper()
				return runCLI(t, append([]string{"--db", db}, args...)...)
			}
			at := filepath.Join(t.TempDir(), "drive")
			if err := os.Mkdir(at, 0o755); err != nil {
				t.Fatal(err)
			}
			mount := func(img string) func() {
				t.Helper()
				if out, err := exec.Command("mount", "-o", "loop", img, at).CombinedOutput(); err != nil {
					t.Fatalf("mount -o loop: %v: %s", err, out)
				}
				mounted := true
				unmount := func() {
					if mounted {
						mounted = false
						if out, err := exec.Command("umount", at).CombinedOutput(); err != nil {
							t.Errorf("umount: %v: %s", err, out)
						}
					}
				}
				t.Cleanup(unmount)
				return unmount
			}
			unmount := mount(one)
			if err := os.WriteFile(filepath.Join(at, "first.txt"), []byte("first"), 0o644); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond) // out of the scan's racy window
			code, out, stderr := cli("scan", "-q", "--volume", at)
			if code != ExitOK || !strings.Contains(out, "volume SAME (ext4, )") {
				t.Fatalf("scan --volume of the first drive: exit %d: %s%s", code, out, stderr)
			}
			unmount()
			unmount = mount(two)
			if err := os.WriteFile(filepath.Join(at, "second.txt"), []byte("second"), 0o644); err != nil {
				t.Fatal(err)
			}
			code, out, stderr = cli("scan", "-q", "--volume", at)
			if code == ExitOK || !strings.Contains(stderr, "another drive with the same label") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("scan --volume of the second drive: exit %d, %q, %q; want one sentence refusing it", code, out, stderr)
			}
			// A plain scan records the label-only drive as the host's files.
			if code, out, stderr := cli("scan", "-q", at); code != ExitOK || strings.Contains(out, "volume SAME") {
				t.Errorf("plain scan of the second drive: exit %d: %s%s", code, out, stderr)
			}
			unmount()
			code, out, _ = cli("find", "first.txt")
			if code != ExitOK || !strings.HasSuffix(out, "  [SAME] /first.txt (offline)\n") {
				t.Errorf("the first drive's file: exit %d, %q", code, out)
			}
			if code, out, _ := cli("--json", "find", "--deleted", "first.txt"); code != ExitOK || strings.Contains(out, `"DEL"`) || !strings.Contains(out, `"ADD"`) {
				t.Errorf("find --deleted: exit %d, %q", code, out)
			}
			// The first drive comes back: the same rows, nothing changed.
			mount(one)
			if code, out, stderr := cli("scan", "-q", "--volume", at); code != ExitOK || !strings.Contains(out, "0 added, 0 modified, 0 deleted, 1 unchanged") {
				t.Errorf("rescan of the first drive: exit %d: %s%s", code, out, stderr)
			}
		})
	}
}
