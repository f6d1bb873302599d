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
