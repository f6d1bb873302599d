package repo

// SetDupesHeldBytes sets what Dupes may hold to sort a listing itself, and
// returns the bound it replaces.
func SetDupesHeldBytes(n int) int {
	old := dupesHeldBytes
	dupesHeldBytes = n
	return old
}
