package db

// SetSingleThreadedSorts sets whether sorts are single-threaded (see
// SingleThreadedSorts), for a test, which must not run in parallel.
func SetSingleThreadedSorts(on bool) { singleThreaded.Store(on) }
