package uow

import "database/sql"

type txOptions = sql.TxOptions

// sqlReadOnly marks read transactions. The driver ignores the flag, but the
// read pool's connections are query_only, so a write fails there regardless.
var sqlReadOnly = sql.TxOptions{ReadOnly: true}
