package repo

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/dto"
)

// Forgettable is what one transaction of forget removes: the rows, and how
// many of them were entries inside archives.
type Forgettable struct {
	Rows, ArchiveEntries int64
}

// ForgetUnder deletes up to n rows of machine at or below root (archive
// entries of archives there included) and says what it deleted; 0 rows
// means none is left.
func (f *Files) ForgetUnder(ctx context.Context, machine, root string, n int) (Forgettable, error) {
	under, args := underCond("path", root)
	return f.forget(ctx, "machine = ? AND "+under, append([]any{machine}, args...), n)
}

// ForgetDeleted deletes up to n DEL rows last seen by a scan before the
// given time (any time when zero) and says what it deleted.
func (f *Files) ForgetDeleted(ctx context.Context, before time.Time, n int) (Forgettable, error) {
	if before.IsZero() {
		return f.forget(ctx, "operation = 'DEL'", nil, n)
	}
	return f.forget(ctx, "operation = 'DEL' AND scanned < ?", []any{nanos(before)}, n)
}

func (f *Files) forget(ctx context.Context, where string, args []any, n int) (Forgettable, error) {
	var rows []struct {
		ID       int64  `db:"id"`
		Machine  string `db:"machine"`
		Archived bool   `db:"is_archived"`
	}
	if err := sqlx.SelectContext(ctx, f.x, &rows, f.x.Rebind("SELECT id, machine, is_archived FROM files WHERE "+where+" LIMIT ?"),
		append(args, n)...); err != nil {
		return Forgettable{}, fmt.Errorf("list rows to forget: %w", err)
	}
	var out Forgettable
	ids := make([]int64, 0, len(rows))
	for _, r := range rows {
		ids = append(ids, r.ID)
		f.t.Add(dto.TagFiles, dto.MachineTag(r.Machine))
		if r.Archived {
			out.ArchiveEntries++
		}
	}
	if len(ids) == 0 {
		return out, nil
	}
	q, qargs, err := sqlx.In("DELETE FROM files WHERE id IN (?)", ids)
	if err != nil {
		return Forgettable{}, err
	}
	res, err := f.x.ExecContext(ctx, f.x.Rebind(q), qargs...)
	if err != nil {
		return Forgettable{}, fmt.Errorf("forget rows: %w", err)
	}
	if out.Rows, err = res.RowsAffected(); err != nil {
		return Forgettable{}, fmt.Errorf("forget rows: %w", err)
	}
	return out, nil
}
