// Package walk walks directory trees for the scanner. It stats every entry once
// (statx, for birth times), reports regular files, skips everything else with a
// reason, and turns unreadable directories into error events instead of
// stopping. It never opens a non-directory, so a FIFO cannot block it.
package walk
