package cmd

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// Version, when set at build time with
// -ldflags "-X github.com/indexer/indexer/cmd.Version=...", replaces the
// module version in --version.
var Version = ""

// versionString is what --version prints after "indexer version ": the
// module version (Version if set), then the VCS revision and commit time the
// binary was built from, "modified" when the work tree had uncommitted
// changes, and the Go version. Go records the revision only when it builds
// from a checkout with VCS stamping on (go build does by default; go run and
// GOFLAGS=-buildvcs=false do not), and the output says so when it is missing.
func versionString(info *debug.BuildInfo, ok bool) string {
	if !ok {
		v := Version
		if v == "" {
			v = "unknown"
		}
		return v + " (no build information in this binary)"
	}
	v := Version
	if v == "" {
		v = info.Main.Version
	}
	if v == "" {
		v = "(devel)"
	}
	var rev, when string
	modified := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	var parts []string
	if rev == "" {
		parts = append(parts, "revision unknown: built without VCS information (go run, or -buildvcs=false)")
	} else {
		parts = append(parts, "revision "+rev)
		if when != "" {
			parts = append(parts, "committed "+when)
		}
		if modified {
			parts = append(parts, "with uncommitted changes")
		}
	}
	parts = append(parts, "built with "+info.GoVersion)
	return fmt.Sprintf("%s (%s)", v, strings.Join(parts, ", "))
}

// buildVersion is versionString for this binary.
func buildVersion() string {
	info, ok := debug.ReadBuildInfo()
	return versionString(info, ok)
}
