package cmd

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionString(t *testing.T) {
	stamped := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
		{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-11-22T03:04:05Z"},
		{Key: "vcs.modified", Value: "false"},
	}}
	dirty := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.4-0.20261122030405-0123456789ab+dirty"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-11-22T03:04:05Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	bare := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}
	tests := []struct {
		name    string
		info    *debug.BuildInfo
		ok      bool
		ldflags string
		want    string
	}{
		{"stamped", stamped, true, "", "v1.2.3 (revision 0123456789abcdef0123456789abcdef01234567, committed 2026-11-22T03:04:05Z, built with go1.26.8)"},
		{"uncommitted changes", dirty, true, "", "v1.2.4-0.20261122030405-0123456789ab+dirty (revision 0123456789abcdef0123456789abcdef01234567, committed 2026-11-22T03:04:05Z, with uncommitted changes, built with go1.26.8)"},
		{"no VCS information", bare, true, "", "(devel) (revision unknown: built without VCS information (go run, or -buildvcs=false), built with go1.26.8)"},
		{"set with -ldflags", stamped, true, "v9.9.9", "v9.9.9 (revision 0123456789abcdef0123456789abcdef01234567, committed 2026-11-22T03:04:05Z, built with go1.26.8)"},
		{"no build information", nil, false, "", "unknown (no build information in this binary)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := Version
			Version = tt.ldflags
			defer func() { Version = old }()
			if got := versionString(tt.info, tt.ok); got != tt.want {
				t.Errorf("versionString = %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestVersionFlag: --version prints one line naming this binary's build,
// and exits 0 without opening a catalog.
func TestVersionFlag(t *testing.T) {
	code, stdout, stderr := runCLI(t, "--version")
	if code != ExitOK || stderr != "" {
		t.Fatalf("--version: exit %d, stderr %q", code, stderr)
	}
	if want := "indexer version " + buildVersion() + "\n"; stdout != want {
		t.Errorf("--version printed %q, want %q", stdout, want)
	}
}

// TestCompletion: `indexer completion SHELL` prints a script for bash, zsh
// and fish that names the program and its commands' completion function.
func TestCompletion(t *testing.T) {
	for shell, marker := range map[string]string{
		"bash": "__start_indexer",
		"zsh":  "#compdef indexer",
		"fish": "complete -c indexer",
	} {
		code, stdout, stderr := runCLI(t, "completion", shell)
		if code != ExitOK || stderr != "" || !strings.Contains(stdout, marker) {
			t.Errorf("completion %s: exit %d, stderr %q, %d bytes without %q", shell, code, stderr, len(stdout), marker)
		}
	}
	if code, _, _ := runCLI(t, "completion", "tcsh"); code != ExitUsage {
		t.Errorf("completion tcsh: exit %d, want %d", code, ExitUsage)
	}
}
