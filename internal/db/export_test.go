package db

// SortWorkers returns how many worker threads a sort of this process is
// given: 0 after SingleThreadedSorts (its statement's own thread only).
func SortWorkers() int { return sorterThreads() }

// SetSingleThreadedSorts sets whether sorts are single-threaded (see
// SingleThreadedSorts), for a test, which must not run in parallel.
func SetSingleThreadedSorts(on bool) { singleThreaded.Store(on) }
