package service

import (
	"bufio"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/indexer/indexer/internal/dto"
)

// scriptHead defines the script's functions. ok refuses anything but two
// regular files, not one file under two names, with equal bytes; each
// action runs only when ok passes, so a second run, or a run after a file
// changed, acts on nothing it should not.
const scriptHead = `set -eu
ino() { ls -di -- "$1" | { read -r n rest; printf '%s\n' "$n"; }; }
ok() {
	[ -f "$1" ] && [ ! -h "$1" ] && [ -f "$2" ] && [ ! -h "$2" ] &&
		[ "$(ino "$1")" != "$(ino "$2")" ] && cmp -s -- "$1" "$2"
}
skip() { printf 'skip (missing, changed or done): %s\n' "$1" >&2; }
# link KEPT FILE TEMP: FILE becomes a hard link of KEPT, through TEMP, a
# name beside it, renamed over it.
link() { if ok "$1" "$2"; then ln -f -- "$1" "$3" && mv -f -- "$3" "$2"; else skip "$2"; fi; }
# trash KEPT FILE DEST: FILE moves to DEST in the trash.
trash() { if ok "$1" "$2" && [ ! -e "$3" ]; then mv -- "$2" "$3"; else skip "$2"; fi; }
# delete KEPT FILE
delete() { if ok "$1" "$2"; then rm -f -- "$2"; else skip "$2"; fi; }
`

// shellQuote quotes s for a POSIX shell: any byte, newlines included,
// stands for itself between single quotes.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// WriteScript writes plan as a POSIX shell script that does what Apply
// would, with the checks a shell can make: before each action, cmp finds
// the file's bytes equal to the kept file's, both are regular files and
// not one file under two names. It cannot check the planned fingerprints
// nor the link count of a file (a name the catalog does not know keeps the
// old inode). trash is where trashed files go ("" for .indexer-trash at
// each file's mount point). reflink has no script form.
func WriteScript(w io.Writer, plan *dto.DedupePlan, trash string) error {
	if plan.Action == ActionReflink {
		return fmt.Errorf("the reflink action has no script form; run 'indexer dedupe apply' instead")
	}
	b := bufio.NewWriter(w)
	fmt.Fprintf(b, "#!/bin/sh\n# indexer dedupe: %s, %d groups, machine %s.\n# Files missing, changed or already done are reported on stderr and left alone.\n",
		plan.Action, len(plan.Groups), strings.ReplaceAll(plan.Machine, "\n", " "))
	b.WriteString(scriptHead)
	run := time.Now().Format("20060102-150405") + "-script"
	made := map[string]bool{}
	n := 0
	for _, g := range plan.Groups {
		if len(g.Keep.Names) == 0 {
			continue
		}
		kept := shellQuote(g.Keep.Names[0].Path)
		fmt.Fprintf(b, "\n# %s, %d bytes\n", g.SHA256, g.Size)
		for _, cp := range g.Act {
			for _, name := range cp.Names {
				n++
				p := shellQuote(name.Path)
				switch plan.Action {
				case ActionHardlink:
					tmp := filepath.Join(filepath.Dir(name.Path), fmt.Sprintf(".indexer-dedupe-script-%d", n))
					fmt.Fprintf(b, "link %s %s %s\n", kept, p, shellQuote(tmp))
				case ActionDelete:
					fmt.Fprintf(b, "delete %s %s\n", kept, p)
				case ActionTrash:
					dir := trash
					if dir == "" {
						dir = filepath.Join(mountPoint(filepath.Dir(name.Path), cp.Device), TrashDirName)
					}
					dir = filepath.Join(dir, run)
					if !made[dir] {
						made[dir] = true
						fmt.Fprintf(b, "mkdir -p -- %s\n", shellQuote(dir))
					}
					dest := filepath.Join(dir, fmt.Sprintf("%06d-%s", n, filepath.Base(name.Path)))
					fmt.Fprintf(b, "trash %s %s %s\n", kept, p, shellQuote(dest))
				default:
					return fmt.Errorf("plan action %q is not one of hardlink, trash, delete", plan.Action)
				}
			}
		}
	}
	return b.Flush()
}
