package repo_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/dbtest"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/repo"
)

// TestChunkWriteKeepsJournalInMemory: a chunk of 200 files written into a
// catalog that holds rows already changes pages all over its indexes; the
// statement journal of those pages stays in memory (db.stmtJournalSpill).
// With SQLite's default of 64 KiB it went to a temporary file, one write(2)
// per page for the rest of the transaction.
func TestChunkWriteKeepsJournalInMemory(t *testing.T) {
	d := dbtest.MustOpen(t)
	if d.Dialect().Shared {
		t.Skip("SQLite's statement journal")
	}
	file := func(i int) dto.FileWithHash {
		// Paths and digests spread over the indexes, as a walk's are over
		// those of a catalog it adds to.
		p := fmt.Sprintf("/d%03d/f%05d", (i*7919)%997, i)
		return hashedFile(p, content(p))
	}
	var held []dto.FileWithHash
	for i := range 5000 {
		held = append(held, file(i))
	}
	onPool(t, d, func(ctx context.Context, r repos) error {
		for start := 0; start < len(held); start += 200 {
			if _, err := r.files.InsertMany(ctx, held[start:start+200]); err != nil {
				return err
			}
		}
		return nil
	})
	var chunk []dto.FileWithHash
	for i := range 200 {
		chunk = append(chunk, file(5000+i*13))
	}
	before := deletedFilesOpen(t) // held before: not this transaction's
	err := d.WithWrite(func(w *sqlx.DB) error {
		tx, err := w.BeginTxx(t.Context(), nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if err := repo.NewFiles(tx).InsertAdded(t.Context(), chunk, 1); err != nil {
			return err
		}
		if open := deletedFilesOpen(t); len(open) > len(before) {
			t.Errorf("a chunk's transaction opened temporary files: %v, against %v before it", open, before)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// deletedFilesOpen returns the files this process holds open that have no
// name any more: SQLite's temporary files.
func deletedFilesOpen(t *testing.T) []string {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasSuffix(target, " (deleted)") {
			out = append(out, target)
		}
	}
	return out
}
