package walk

import (
	"path/filepath"
	"testing"
)

// TestJoin: join agrees with filepath.Join for the clean directories and
// plain names a walk meets, the root included.
func TestJoin(t *testing.T) {
	for _, c := range [][2]string{{"/", "a"}, {"/a", "b"}, {"/a/b", ".hidden"}, {"/a", "x\ny"}, {"/a", "\xff"}} {
		if got, want := join(c[0], c[1]), filepath.Join(c[0], c[1]); got != want {
			t.Errorf("join(%q, %q) = %q, want %q", c[0], c[1], got, want)
		}
	}
}
