package web_test

import (
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/indexer/indexer/internal/web"
)

// mountedDrive makes an ext4 file system labelled label in an image and
// loop-mounts it on a new directory; the function returned unmounts it
// (also done at the test's end). Without
// root it skips the test, or fails it under CI=true, which runs as root.
func mountedDrive(t *testing.T, label string) (string, func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("a loop-mounted drive needs root; CI must run as root")
		}
		t.Skip("a loop-mounted drive needs root")
	}
	img := filepath.Join(t.TempDir(), "drive.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 16<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-L", label, img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v: %s", err, out)
	}
	dir := filepath.Join(t.TempDir(), "drive")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-o", "loop", img, dir).CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount -o loop: %v: %s", err, out)
		}
		t.Skipf("mount -o loop: %s", strings.TrimSpace(string(out)))
	}
	mounted := true
	unmount := func() {
		if mounted {
			mounted = false
			if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
				t.Errorf("umount %s: %v: %s", dir, err, out)
			}
		}
	}
	t.Cleanup(unmount)
	return dir, unmount
}

// TestAPIDupesVolume: /api/dupes shows a volume's files with the volume
// object dupes --json prints (label, mounted, where the file is now), also
// under the volume's mount point; unplugged, the answer (from the cache,
// which no write touched) says it is offline.
func TestAPIDupesVolume(t *testing.T) {
	f := newFixtureTree(t, "", web.Config{}, sampleTree)
	drive, unplug := mountedDrive(t, "WEBDRIVE")
	writeTree(t, drive, map[string]string{"p/b.jpg": "bravo bravo", "p/c.jpg": "bravo bravo"})
	f.cli("--machine", "m1", "scan", "-q", "--volume", drive)
	f.serve()
	for _, c := range []struct{ query, flags string }{
		{"", ""},
		{"under=" + url.QueryEscape(drive) + "&", "--under " + drive},
	} {
		var cli dupesAnswer
		decode(t, f.cli(append([]string{"dupes", "--json"}, strings.Fields(c.flags)...)...), &cli)
		api := f.allDupes(c.query, 50)
		sameJSON(t, "dupes "+c.flags, compact(t, api.Groups), compact(t, cli.Groups))
		if !strings.Contains(strings.Join(compact(t, api.Groups), "\n"), `"abs_path":"`+filepath.Join(drive, "p", "b.jpg")+`"`) {
			t.Errorf("/api/dupes?%s has no volume file at its current path: %s", c.query, compact(t, api.Groups))
		}
	}
	unplug()
	var cli dupesAnswer
	decode(t, f.cli("dupes", "--json"), &cli)
	api := f.allDupes("", 50)
	sameJSON(t, "dupes unplugged", compact(t, api.Groups), compact(t, cli.Groups))
	if all := strings.Join(compact(t, api.Groups), "\n"); strings.Contains(all, `"abs_path"`) || !strings.Contains(all, `"mounted":false`) {
		t.Errorf("/api/dupes unplugged still shows the volume mounted: %s", all)
	}
}

// TestBrowserDupesVolume: the dupes page names a volume's files with its
// label, and their copy buttons copy where the files are now.
func TestBrowserDupesVolume(t *testing.T) {
	f := newFixtureTree(t, "", web.Config{}, sampleTree)
	drive, _ := mountedDrive(t, "WEBDRIVE")
	writeTree(t, drive, map[string]string{"p/b.jpg": "bravo bravo", "p/c.jpg": "bravo bravo"})
	f.cli("--machine", "m1", "scan", "-q", "--volume", drive)
	f.serve()
	ctx, _ := browser(t)
	p := page{t, ctx}
	p.do(chromedp.Navigate(f.ts.URL + "/dupes"))
	p.waitText("#groups", "[WEBDRIVE] /p/b.jpg")
	want := filepath.Join(drive, "p", "b.jpg")
	copied := p.js(`[...document.querySelectorAll("#groups button.copy")].map((b) => b.dataset.copy).find((c) => c.endsWith("/p/b.jpg"))`)
	if copied != want {
		t.Errorf("the copy button of [WEBDRIVE] /p/b.jpg copies %q, want %q", copied, want)
	}
}
