package cmd

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode"

	"golang.org/x/term"
	"golang.org/x/text/width"

	"github.com/indexer/indexer/internal/bytesize"
	"github.com/indexer/indexer/internal/service"
)

// progressEvery is how often the progress line is redrawn.
const progressEvery = 200 * time.Millisecond

// showProgress draws a progress line on stderr while it is a terminal, and
// returns the function that removes it.
func (a *app) showProgress(p *service.ScanProgress, quiet bool) func() {
	if !a.progressShown(quiet) {
		return func() {}
	}
	f := a.stderr.(*os.File)
	columns := func() int {
		w, _, err := term.GetSize(int(f.Fd()))
		if err != nil || w <= 0 {
			return 80
		}
		return w
	}
	return startProgress(f, columns, p)
}

// progressShown tells whether showProgress draws a progress line: on a
// terminal, unless quiet.
func (a *app) progressShown(quiet bool) bool {
	f, ok := a.stderr.(*os.File)
	return !quiet && ok && term.IsTerminal(int(f.Fd()))
}

// startProgress redraws the line for p on w every progressEvery, as wide
// as columns says the terminal is then, and returns the function that
// stops and erases it.
func startProgress(w io.Writer, columns func() int, p *service.ScanProgress) func() {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				drawProgress(w, progressLine(p.Snapshot(time.Now()), columns()))
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		drawProgress(w, "")
	}
}

// drawProgress replaces the terminal's current line with line: back to
// its start, the text, then erase to the end of the line, so that nothing
// of a longer line before remains. line never reaches the last column, so
// the terminal never wraps it onto a line the next \r cannot reach.
func drawProgress(w io.Writer, line string) {
	fmt.Fprint(w, "\r"+line+"\x1b[K")
}

// progressLine is the progress as one line of at most columns-1 cells:
// files (of the total, once counted), bytes hashed, rate, ETA (or
// "counting" until the count of the roots is done), and then the file
// being read when it takes more than a second, with its share read, or
// else the directory the walk is in. The parts that do not fit are left
// out from the end, and a path is shortened from its start.
func progressLine(s service.ProgressSnapshot, columns int) string {
	room := columns - 1
	if room <= 0 {
		return ""
	}
	files := plural(s.Files, "file")
	if s.Counted {
		files = thousands(s.Files) + "/" + thousands(s.TotalFiles) + " files"
	}
	parts := []string{files, bytesize.Format(s.Bytes) + " hashed"}
	if r := rate(s.Bytes, s.Elapsed); r != "" {
		parts = append(parts, r)
	}
	switch {
	case !s.Counted:
		parts = append(parts, "counting")
	case s.ETA > 0:
		parts = append(parts, "ETA "+shortDuration(s.ETA))
	}
	var line string
	for _, part := range parts {
		next := part
		if line != "" {
			next = line + "  " + part
		}
		if cells(next) > room {
			break
		}
		line = next
	}
	if line == "" {
		return cut(files, room)
	}
	// The rest of the room, if any worth having, for where the scan is.
	left := room - cells(line) - 2
	var where string
	switch {
	case s.Slow != nil:
		suffix := ""
		if pct := s.Slow.Percent(); pct >= 0 {
			suffix = fmt.Sprintf(" %.0f%% of %s", pct, bytesize.Format(s.Slow.Size))
		}
		where = strings.TrimSpace("reading "+tail(displayPath(s.Slow.Path), left-len("reading ")-cells(suffix))) + suffix
	case s.Status != "":
		where = tail(displayPath(s.Status), left)
	}
	if where != "" && left >= 8 && cells(where) <= left {
		line += "  " + where
	}
	return line
}

// shortDuration writes d as 45s, 3m12s or 2h05m.
func shortDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// cells is how many terminal columns s takes: East Asian wide and
// full-width characters take two, combining marks none.
func cells(s string) int {
	n := 0
	for _, r := range s {
		n += runeCells(r)
	}
	return n
}

func runeCells(r rune) int {
	switch {
	case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf):
		return 0
	}
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return 2
	}
	return 1
}

// tail shortens s to at most n cells by dropping its start, marked with
// "…": the end of a path, its file name, says most. It returns "" when n
// leaves no room.
func tail(s string, n int) string {
	if cells(s) <= n {
		return s
	}
	if n < 2 {
		return ""
	}
	rs := []rune(s)
	used := 1 // the ellipsis
	i := len(rs)
	for i > 0 && used+runeCells(rs[i-1]) <= n {
		i--
		used += runeCells(rs[i])
	}
	return "…" + string(rs[i:])
}

// cut shortens s to at most n cells by dropping its end.
func cut(s string, n int) string {
	var b strings.Builder
	used := 0
	for _, r := range s {
		if used+runeCells(r) > n {
			break
		}
		used += runeCells(r)
		b.WriteRune(r)
	}
	return b.String()
}
