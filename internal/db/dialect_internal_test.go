package db

import (
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/pgtest"
)

// TestEscapeTextIsPostgres checks escapeText against PostgreSQL's own
// encode(bytes, 'escape') on names with every kind of byte: Dialect.Like
// compares a name written one way with a pattern written the other.
func TestEscapeTextIsPostgres(t *testing.T) {
	d, err := Open(t.Context(), pgtest.URL(t), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var all []byte
	for c := 1; c < 256; c++ {
		all = append(all, byte(c))
	}
	for _, s := range []string{"plain.txt", `back\slash`, "caf\xc3\xa9", "latin1 caf\xe9", "\xff\xfe", "new\nline\ttab\x7f", string(all)} {
		var got string
		if err := d.WithRead(func(x *sqlx.DB) error {
			return x.GetContext(t.Context(), &got, "SELECT encode(CAST($1 AS BYTEA), 'escape')", s)
		}); err != nil {
			t.Fatal(err)
		}
		if want := escapeText(s); got != want {
			t.Errorf("%q: PostgreSQL writes %q, escapeText %q", s, got, want)
		}
	}
}
