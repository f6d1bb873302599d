package db

// SortThreads returns the worker threads SQLite's sorter is given (see
// withSortThreads and OpenRaw).
func SortThreads() int { return sortThreads }
