package numfmt

import "testing"

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", -1234567: "-1,234,567", 100000: "100,000"} {
		if got := Thousands(n); got != want {
			t.Errorf("Thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestPlural(t *testing.T) {
	for _, c := range []struct {
		n          int64
		noun, want string
	}{
		{1, "file", "1 file"}, {0, "file", "0 files"}, {2, "file", "2 files"}, {1234, "file", "1,234 files"},
		{2, "archive entry", "2 archive entries"}, {2, "key", "2 keys"}, {2, "hash", "2 hashes"},
		{3, "index", "3 indexes"}, {2, "match", "2 matches"}, {1, "directory", "1 directory"},
		{2, "directory", "2 directories"}, {2, "distinct content", "2 distinct contents"},
	} {
		if got := Plural(c.n, c.noun); got != c.want {
			t.Errorf("Plural(%d, %q) = %q, want %q", c.n, c.noun, got, c.want)
		}
	}
}
