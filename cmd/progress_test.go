package cmd

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/service"
)

// screen is a terminal of one width, enough to replay what the progress
// line writes: printable characters (wide ones take two cells), wrapping
// at the last column, \r, \n and ESC [ K (erase to the end of the line).
type screen struct {
	width    int
	rows     [][]rune // a cell of a wide character's second half holds 0
	row, col int
}

func newScreen(width int) *screen { return &screen{width: width, rows: [][]rune{nil}} }

func (s *screen) cell(col int, r rune) {
	line := s.rows[s.row]
	for len(line) <= col {
		line = append(line, ' ')
	}
	line[col] = r
	s.rows[s.row] = line
}

func (s *screen) write(b []byte) {
	text := []rune(string(b))
	for i := 0; i < len(text); i++ {
		r := text[i]
		switch {
		case r == '\r':
			s.col = 0
		case r == '\n':
			s.newline()
		case r == '\x1b' && i+2 < len(text) && text[i+1] == '[' && text[i+2] == 'K':
			if len(s.rows[s.row]) > s.col {
				s.rows[s.row] = s.rows[s.row][:s.col]
			}
			i += 2
		default:
			w := runeCells(r)
			if s.col+w > s.width { // the terminal wraps onto the next line
				s.newline()
			}
			s.cell(s.col, r)
			if w == 2 {
				s.cell(s.col+1, 0)
			}
			s.col += w
		}
	}
}

func (s *screen) newline() {
	s.row++
	s.col = 0
	if s.row == len(s.rows) {
		s.rows = append(s.rows, nil)
	}
}

// text is what the screen shows, wide characters once, lines trimmed.
func (s *screen) text() string {
	var lines []string
	for _, l := range s.rows {
		lines = append(lines, strings.TrimRight(strings.ReplaceAll(string(l), "\x00", ""), " "))
	}
	return strings.Join(lines, "\n")
}

// TestProgressLineFitsTheTerminal replays progress lines, long and short,
// with wide characters, slow files and paths that need escapes, on
// terminals from 1 to 120 columns wide: a line never wraps, each frame
// shows exactly its own line with nothing left of a longer one before, and
// the last frame leaves the line empty.
func TestProgressLineFitsTheTerminal(t *testing.T) {
	long := "/srv/share/" + strings.Repeat("very-long-directory-name/", 6) + "写真/2019"
	frames := []service.ProgressSnapshot{
		{Files: 1234567, Bytes: 5 << 30, Elapsed: 90 * time.Second, Status: long},
		{Files: 12, Bytes: 1 << 20, Elapsed: 2 * time.Second, Status: "/tmp/a"},
		{Files: 99999, Bytes: 7 << 30, Elapsed: time.Hour, Counted: true, TotalFiles: 123456, TotalBytes: 9 << 30,
			ETA: 3*time.Minute + 12*time.Second, Status: long,
			Slow: &service.SlowRead{Path: long + "/動画ファイル.iso", Size: 4 << 30, Done: 1 << 30, Elapsed: 3 * time.Second}},
		{Files: 5, Counted: true, TotalFiles: 5, Status: "/x/new\nline\xff"},
		{Files: 7, Bytes: 100, Elapsed: 5 * time.Second, Counted: true, TotalFiles: 9, ETA: 2 * time.Hour,
			Slow: &service.SlowRead{Path: "/proc/kcore", Elapsed: 2 * time.Second}},
	}
	for columns := 1; columns <= 120; columns++ {
		var out bytes.Buffer
		scr := newScreen(columns)
		for i, f := range frames {
			line := progressLine(f, columns)
			if got := cells(line); got > columns-1 {
				t.Fatalf("%d columns, frame %d: line of %d cells %q", columns, i, got, line)
			}
			out.Reset()
			drawProgress(&out, line)
			scr.write(out.Bytes())
			if len(scr.rows) != 1 {
				t.Fatalf("%d columns, frame %d: the line wrapped: %q", columns, i, scr.text())
			}
			if got := scr.text(); got != strings.TrimRight(line, " ") {
				t.Fatalf("%d columns, frame %d: the screen shows %q, want exactly %q", columns, i, got, line)
			}
		}
		out.Reset()
		drawProgress(&out, "")
		if scr.write(out.Bytes()); scr.text() != "" {
			t.Fatalf("%d columns: %q left after the progress line was erased", columns, scr.text())
		}
	}
}

// TestProgressLineSays checks what a wide terminal shows: files of the
// total, bytes hashed, rate, ETA, and the slow file with its share read,
// or "counting" and the directory before the count is done.
func TestProgressLineSays(t *testing.T) {
	before := progressLine(service.ProgressSnapshot{Files: 1500, Bytes: 3 << 20, Elapsed: 2 * time.Second, Status: "/data/photos"}, 120)
	if want := "1,500 files  3.0 MiB hashed  1.5 MiB/s  counting  /data/photos"; before != want {
		t.Errorf("before the count:\n got %q\nwant %q", before, want)
	}
	slow := progressLine(service.ProgressSnapshot{Files: 1500, Bytes: 3 << 30, Elapsed: 2 * time.Second, Status: "/data/isos",
		Counted: true, TotalFiles: 2000, TotalBytes: 9 << 30, ETA: 75 * time.Second,
		Slow: &service.SlowRead{Path: "/data/isos/debian.iso", Size: 4 << 30, Done: 1 << 30, Elapsed: 5 * time.Second}}, 120)
	if want := "1,500/2,000 files  3.0 GiB hashed  1.5 GiB/s  ETA 1m15s  reading /data/isos/debian.iso 25% of 4.0 GiB"; slow != want {
		t.Errorf("a slow file:\n got %q\nwant %q", slow, want)
	}
	narrow := progressLine(service.ProgressSnapshot{Files: 1500, Bytes: 3 << 30, Elapsed: 2 * time.Second,
		Counted: true, TotalFiles: 2000, TotalBytes: 9 << 30, ETA: 75 * time.Second,
		Slow: &service.SlowRead{Path: "/data/isos/debian.iso", Size: 4 << 30, Done: 1 << 30, Elapsed: 5 * time.Second}}, 95)
	if want := "1,500/2,000 files  3.0 GiB hashed  1.5 GiB/s  ETA 1m15s  reading …os/debian.iso 25% of 4.0 GiB"; narrow != want {
		t.Errorf("a slow file, 95 columns:\n got %q\nwant %q", narrow, want)
	}
}
