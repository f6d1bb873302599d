package dto

// Tags name what a committed write changed, for the query cache of a
// long-lived process (indexer serve): a cached answer carries the tags of
// what it was read from, and a write that touches one of them makes it
// unservable. They name data, not answers: an answer's tags are those of the
// tables it reads.
const (
	// TagFiles is touched by every change to the rows of files, on any
	// machine: duplicates, find, lookup, stats and health read it.
	TagFiles = "files"
	// TagScans is touched by every change to the rows of scans: a scan
	// starting, finishing or marked interrupted. Stats and health read it.
	TagScans = "scans"
	// TagIndexes is touched when the catalog's indexes are set aside or
	// built. Health reads it.
	TagIndexes = "indexes"
	// TagDirs is touched by every change to the rows of dirs (directory
	// digests): duplicate directories read it.
	TagDirs = "dirs"
	// TagChanges is touched by every change to the change log (a scan's
	// changes, a prune): diff reads it.
	TagChanges = "changes"
	// TagVerifications is touched when verify records what it found: stats
	// and health read it.
	TagVerifications = "verifications"
	// TagEpoch stands for everything: it is touched when the whole catalog
	// may have changed (a restore, a migration) or nobody can tell what did.
	TagEpoch = "epoch"
)

// MachineTag is touched, beside TagFiles or TagScans, by a change to the
// files or scans of machine: an answer limited to one machine can carry it
// instead of TagFiles.
func MachineTag(machine string) string { return "machine:" + machine }
