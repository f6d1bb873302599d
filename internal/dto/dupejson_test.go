package dto

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// Plain mirrors of the documented shape, encoded by reflection.
type refFile struct {
	Machine        string `json:"machine"`
	Path           string `json:"path"`
	ArchivePath    string `json:"archive_path,omitempty"`
	Linked         bool   `json:"linked,omitempty"`
	Modified       string `json:"modified,omitempty"`
	PathB64        string `json:"path_b64,omitempty"`
	ArchivePathB64 string `json:"archive_path_b64,omitempty"`
}

type refGroup struct {
	SHA256      string    `json:"sha256"`
	Size        int64     `json:"size"`
	Count       int       `json:"count"`
	Copies      int       `json:"copies"`
	Reclaimable int64     `json:"reclaimable"`
	Files       []refFile `json:"files"`
}

func TestDupeGroupJSONEqualsEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	pieces := []string{"a", "/", " ", "é", "日本", "\n", "\t", "\r", "\x00", "\x1f", "\x7f", `"`, `\`, "<", ">", "&",
		"\u2028", "\u2029", "\xff", "\xc3", "\xe2\x80", "\U0001F600", "%", "::"}
	str := func() string {
		var b strings.Builder
		for range rng.IntN(8) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		return b.String()
	}
	for range 2000 {
		g := DupeGroup{SHA256: str(), Size: rng.Int64N(1 << 40), Count: rng.IntN(5), Copies: rng.IntN(5), Reclaimable: -rng.Int64N(9)}
		ref := refGroup{SHA256: g.SHA256, Size: g.Size, Count: g.Count, Copies: g.Copies, Reclaimable: g.Reclaimable}
		if rng.IntN(10) > 0 {
			g.Files, ref.Files = []DupeFile{}, []refFile{}
		}
		for range rng.IntN(4) {
			f := DupeFile{Machine: str(), Path: str(), Linked: rng.IntN(2) == 0, Device: 7, Inode: 9}
			if rng.IntN(3) == 0 {
				f.ArchivePath = str()
			}
			modified := ""
			if rng.IntN(2) == 0 {
				f.Modified = time.Unix(rng.Int64N(1<<40)-1<<39, rng.Int64N(1e9))
				modified = JSONTime(f.Modified)
			}
			g.Files = append(g.Files, f)
			ref.Files = append(ref.Files, refFile{Machine: f.Machine, Path: f.Path, ArchivePath: f.ArchivePath, Linked: f.Linked,
				Modified: modified, PathB64: PathB64(f.Path), ArchivePathB64: PathB64(f.ArchivePath)})
		}
		// AppendJSON itself: json.Marshal would compact and HTML-escape a
		// MarshalJSON's output again, hiding escaping mistakes.
		got := g.AppendJSON(nil)
		want, err := json.Marshal(ref)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
	}
}

func TestDecodePathRoundTrip(t *testing.T) {
	for _, p := range []string{"/plain", "/new\nline", "/bad\xffname", "\xc3", ""} {
		b, err := json.Marshal(struct {
			Path    string `json:"path"`
			PathB64 string `json:"path_b64,omitempty"`
		}{p, PathB64(p)})
		if err != nil {
			t.Fatal(err)
		}
		var back struct {
			Path    string `json:"path"`
			PathB64 string `json:"path_b64"`
		}
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		got, err := DecodePath(back.Path, back.PathB64)
		if err != nil || got != p {
			t.Errorf("%q: JSON %s reads back as %q, %v", p, b, got, err)
		}
	}
}
