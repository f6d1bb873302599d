package db_test

import (
	"context"
	"errors"
	"testing"

	"github.com/indexer/indexer/internal/db"
)

// TestInspectCanceledIsNotForeign: a restore interrupted while it checks a
// file must say so, not call the file another program's database.
func TestInspectCanceledIsNotForeign(t *testing.T) {
	src := replaceFileTestBackup(t, 3)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := db.Inspect(ctx, src, false)
	if !errors.Is(err, context.Canceled) || errors.Is(err, db.ErrNotCatalog) {
		t.Fatalf("Inspect with a canceled context: %v, want context.Canceled", err)
	}
}
