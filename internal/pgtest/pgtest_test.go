package pgtest_test

import (
	"database/sql"
	"testing"

	"github.com/indexer/indexer/internal/pgtest"
)

// TestURL gets two databases: each answers, and they are different ones.
func TestURL(t *testing.T) {
	names := map[string]bool{}
	for range 2 {
		x, err := sql.Open("pgx", pgtest.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		defer x.Close()
		var name string
		if err := x.QueryRowContext(t.Context(), "SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		names[name] = true
	}
	if len(names) != 2 {
		t.Errorf("two calls gave databases %v, want two different ones", names)
	}
}
