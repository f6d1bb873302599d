package web_test

import (
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/indexer/indexer/internal/volume/volumetest"
	"github.com/indexer/indexer/internal/web"
)

// mountedDrive makes an ext4 file system labelled label and loop-mounts
// it on a new directory; the function returned unmounts it (also done at
// the test's end).
func mountedDrive(t *testing.T, label string) (string, func()) {
	t.Helper()
	return volumetest.Mount(t, volumetest.Image(t, "ext4", label), "drive")
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
