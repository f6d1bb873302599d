package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// sampleGroup is one duplicate group of testdata/sample as the test expects
// it: paths relative to the sample, an archive entry as ARCHIVE::INNER.
type sampleGroup struct {
	size  int64
	paths []string
}

// TestSampleTree runs the README's first command as a new user would: a
// scan of testdata/sample and dupes, into the default catalog of a fresh
// HOME. Both exit 0, dupes lists exactly the sample's duplicate groups (each
// sha256 checked against the file), and the catalog is created private.
func TestSampleTree(t *testing.T) {
	sample, err := filepath.Abs(filepath.Join("..", "testdata", "sample"))
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	run := func(args ...string) result {
		t.Helper()
		cmd := exec.Command(bin, args...)
		for _, kv := range baseEnv() {
			if !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "XDG_DATA_HOME=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, "HOME="+home)
		r := execute(t, cmd)
		if r.code != 0 {
			t.Fatalf("%s\n%s", r, r.stdout)
		}
		return r
	}

	var s scanSummary
	if err := json.Unmarshal([]byte(run("scan", "--json", "--quiet", sample).stdout), &s); err != nil {
		t.Fatal(err)
	}
	// 14 plain files (archives included) and 4 archive entries.
	if s.Status != "complete" || s.FilesSeen != 18 || s.Added != 18 || s.Skipped != 0 || s.Failed != 0 {
		t.Errorf("scan of the sample: %+v; want complete, 18 files seen and added, none skipped or failed", s)
	}

	dir := filepath.Join(home, ".local", "share", "indexer")
	for p, want := range map[string]os.FileMode{
		filepath.Join(home, ".local"):  0o700,
		dir:                            0o700,
		filepath.Join(dir, "index.db"): 0o600,
	} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v, %v; want mode %04o", p, fi.Mode(), err, want)
		}
	}

	raw := []string{"backup/IMG_0001 (copy).raw", "backup/old/IMG_0001.raw", "photos/raw/IMG_0001.raw"}
	playlist := []string{"backup/music/🎵 playlist.m3u", "music/🎵 playlist.m3u"}
	notes := []string{"documents/notes.txt", "documents/Ελληνικά/σημειώσεις.txt"}
	shore := []string{"photos/holiday/海辺.txt", "photos/копия/море.txt"}
	tests := []struct {
		args []string
		want []sampleGroup
	}{
		{nil, []sampleGroup{{16384, raw}, {145, playlist}, {109, notes}, {74, shore}}},
		{[]string{"--include-archived"}, []sampleGroup{
			{16384, append([]string{"archives/photos-2019.tar.gz::photos-2019/IMG_0001.raw"}, raw...)},
			{109, append([]string{"archives/old-notes.zip::notes.txt", "archives/photos-2019.tar.gz::photos-2019/σημειώσεις.txt"}, notes...)},
			{74, append([]string{"archives/old-notes.zip::海辺.txt"}, shore...)}, // 148 bytes reclaimable
			{145, playlist},
		}},
	}
	for _, tt := range tests {
		var d struct {
			Groups []struct {
				SHA256      string `json:"sha256"`
				Size        int64  `json:"size"`
				Count       int    `json:"count"`
				Reclaimable int64  `json:"reclaimable"`
				Files       []struct {
					Path        string `json:"path"`
					ArchivePath string `json:"archive_path"`
				} `json:"files"`
			} `json:"groups"`
			GroupsTotal      int   `json:"groups_total"`
			ReclaimableTotal int64 `json:"reclaimable_total"`
		}
		if err := json.Unmarshal([]byte(run(append([]string{"dupes", "--json"}, tt.args...)...).stdout), &d); err != nil {
			t.Fatal(err)
		}
		var got []sampleGroup
		var reclaimable int64
		for _, g := range d.Groups {
			sg := sampleGroup{size: g.Size}
			for _, f := range g.Files {
				rel, err := filepath.Rel(sample, f.Path)
				if err != nil {
					t.Fatal(err)
				}
				if f.ArchivePath != "" {
					rel += "::" + f.ArchivePath
				} else if sum, err := sha256File(f.Path); err != nil || sum != g.SHA256 {
					t.Errorf("group %s holds %s, whose sha256 is %s (%v)", g.SHA256, rel, sum, err)
				}
				sg.paths = append(sg.paths, rel)
			}
			if g.Count != len(g.Files) || g.Reclaimable != int64(len(g.Files)-1)*g.Size {
				t.Errorf("dupes %q: group %s counts %d files and %d reclaimable for %d files of %d bytes", tt.args, g.SHA256, g.Count, g.Reclaimable, len(g.Files), g.Size)
			}
			reclaimable += g.Reclaimable
			got = append(got, sg)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("dupes %q of the sample:\n got %s\nwant %s", tt.args, fmt.Sprint(got), fmt.Sprint(tt.want))
		}
		if d.GroupsTotal != len(tt.want) || d.ReclaimableTotal != reclaimable {
			t.Errorf("dupes %q: totals %d groups, %d reclaimable; want %d, %d", tt.args, d.GroupsTotal, d.ReclaimableTotal, len(tt.want), reclaimable)
		}
	}
}
