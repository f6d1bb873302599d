package uow

import "database/sql"

// txOptions are a transaction's options; nil for a write transaction. Read
// transactions take db.Dialect.ReadTx.
type txOptions = sql.TxOptions
