package repo

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/dto"
)

// ChunkSize is the number of rows one batch statement writes. 200 rows of the
// widest table stay far below every engine's bound-parameter limit.
const ChunkSize = 200

// Executor is what a repository needs: queries and statements, on a pool or a tx.
type Executor interface {
	sqlx.ExtContext
	PreparexContext(ctx context.Context, query string) (*sqlx.Stmt, error)
}

// PathRange returns the half-open range [lo, hi) that holds every path strictly
// below root, for index-friendly prefix queries without LIKE escaping. Paths are
// compared bytewise, and '0' is the byte after '/'.
func PathRange(root string) (lo, hi string) {
	lo = root
	if !strings.HasSuffix(lo, "/") {
		lo += "/"
	}
	return lo, lo[:len(lo)-1] + "0"
}

// underCond returns a condition that holds when the path expression col is
// root or lies below it, and its arguments. Its outer range [root, hi) is one
// an index on col can be searched by (an OR of two ranges makes engines read
// every row of the other keys instead); the inner test drops what sorts in
// that range without being below root ("/a-x" between "/a" and "/a/").
func underCond(col, root string) (string, []any) {
	lo, hi := PathRange(root)
	return "(" + col + " >= ? AND " + col + " < ? AND (" + col + " = ? OR " + col + " >= ?))", []any{root, hi, root, lo}
}

// underHostCond is underCond for paths of this host (--under): the rows of
// machines that are no volume's below one of roots, and the rows of the
// volumes' subtrees mounted there.
func underHostCond(machineCol, pathCol string, roots []string, vols []dto.VolumeSubtree) (string, []any) {
	var ors []string
	var a []any
	if len(roots) > 0 {
		for _, r := range roots {
			c, ra := underCond(pathCol, r)
			ors = append(ors, c)
			a = append(a, ra...)
		}
		ors = []string{"(" + machineCol + " NOT LIKE ? AND (" + strings.Join(ors, " OR ") + "))"}
		a = append([]any{dto.VolumeMachinePrefix + "%"}, a...)
	}
	for _, v := range vols {
		c, va := underCond(pathCol, v.Path)
		ors = append(ors, "("+machineCol+" = ? AND "+c+")")
		a = append(append(a, v.Machine), va...)
	}
	return "(" + strings.Join(ors, " OR ") + ")", a
}

// placeholders returns "(?, ?, ...), (...)" for rows rows of n columns.
func placeholders(rows, n int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
	var b strings.Builder
	b.Grow(rows * (len(one) + 2))
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(one)
	}
	return b.String()
}

// nanos and fromNanos store the times of scans (started, finished, and a
// row's scanned), which come from this machine's clock: Unix nanoseconds hold
// them until 2262, and 0 stands for none. A file's own times can be anything
// and are stored as seconds and nanoseconds instead (see Files).
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// ErrStop, returned by a callback, ends a listing early without an error.
var ErrStop = errors.New("stop listing")
