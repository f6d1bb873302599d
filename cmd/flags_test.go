package cmd

import (
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestSharedFlagsLookAlike checks that a flag several commands have is shown
// the same way in each --help (hidden developer commands aside): the same shorthand and the same placeholder
// (--name GLOB, --under PATH, --format FORMAT...), and that every flag
// taking a size shows SIZE.
func TestSharedFlagsLookAlike(t *testing.T) {
	root, _ := NewRoot(io.Discard, io.Discard)
	type shown struct{ command, shorthand, placeholder string }
	seen := map[string]shown{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden {
			return
		}
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Hidden || f.Name == "help" {
				return
			}
			placeholder, usage := pflag.UnquoteUsage(f)
			s := shown{c.CommandPath(), f.Shorthand, placeholder}
			if prev, ok := seen[f.Name]; ok && (prev.shorthand != s.shorthand || prev.placeholder != s.placeholder) {
				t.Errorf("--%s is shown as -%s %s in %q and as -%s %s in %q",
					f.Name, prev.shorthand, prev.placeholder, prev.command, s.shorthand, s.placeholder, s.command)
			}
			seen[f.Name] = s
			if (strings.Contains(f.Name, "size") || strings.Contains(f.Name, "bytes") || strings.Contains(usage, "10K")) && placeholder != "SIZE" {
				t.Errorf("%s --%s takes a size but shows %q", c.CommandPath(), f.Name, placeholder)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	for _, name := range []string{"name", "under", "format", "min-size", "max-size", "limit", "include-archived", "older-than", "workers"} {
		if _, ok := seen[name]; !ok {
			t.Errorf("no command has --%s", name)
		}
	}
}
