package repo

// SetDupesHeldBytes sets what Dupes may hold to sort a listing itself, and
// returns the bound it replaces.
func SetDupesHeldBytes(n int) int {
	old := dupesHeldBytes
	dupesHeldBytes = n
	return old
}

// SetRawDupesFiles sets the number of files from which Dupes reads a
// listing through a raw connection, and returns the number it replaces.
func SetRawDupesFiles(n int64) int64 {
	old := rawDupesFiles
	rawDupesFiles = n
	return old
}

// FindQuery is findQuery: Find's statement for q on dialect dl.
var FindQuery = findQuery
