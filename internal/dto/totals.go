package dto

// Totals the catalog keeps or counts, as the repositories return them.

// NameSize is what a tally needs of one file row.
type NameSize struct {
	Machine  string
	Name     string
	Size     int64
	Deleted  bool // operation DEL
	Archived bool // an entry inside an archive
}

// FileTotal is one row of file_totals: the rows of one machine and kind
// ("file", "entry" or "deleted") and, for "file", one raw extension.
type FileTotal struct {
	Machine string
	Kind    string
	Ext     string // the bytes after the name's last dot, case kept; "" for other kinds
	Files   int64
	Bytes   int64
}

// VolumeTotals are the present plain files of a volume and their bytes.
type VolumeTotals struct {
	Files, Bytes int64
}

// Counts are a catalog's row counts, all read in one statement (see
// db.CountRows). Files counts present rows, archive entries included;
// Deleted the rows kept for files that vanished; Entries the present
// archive entries; Machines the machines with rows; Bytes the present rows'
// bytes; Hashes the distinct contents of all rows, deleted ones included;
// Scans the scans recorded.
type Counts struct {
	Files    int64 `db:"files"`
	Deleted  int64 `db:"deleted"`
	Entries  int64 `db:"entries"`
	Machines int64 `db:"machines"`
	Bytes    int64 `db:"bytes"`
	Hashes   int64 `db:"hashes"`
	Scans    int64 `db:"scans"`
}

// Empty reports whether the catalog holds no rows at all.
func (c Counts) Empty() bool { return c == Counts{} }
