package uow

import "github.com/jmoiron/sqlx"

// TxOf returns the transaction of r, for tests that write what no
// repository writes (rows behind the repositories' backs, pragmas).
func TxOf(r *Repos) *sqlx.Tx { return r.tx }
