// Package volume tells which file system a path lives on: its mount point,
// type, UUID and label (from /proc/self/mountinfo, the /dev/disk/by-uuid and
// by-label links, or blkid), and whether it is removable or external, so that
// the scan can record a drive's files relative to it.
package volume
