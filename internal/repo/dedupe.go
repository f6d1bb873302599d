package repo

import (
	"context"
	"fmt"
	"time"

	"github.com/indexer/indexer/internal/dto"
)

// DedupeChange is what dedupe did to one plain file of a machine, for the
// catalog to record it as a rescan would.
type DedupeChange struct {
	Path string
	// Gone: the file was deleted or moved to the trash.
	Gone bool
	// Otherwise the file is present with these validators and modification
	// time (relinked to another inode, restored from the trash, or a kept
	// file whose link count changed). Present sets the row present (ADD)
	// again, for a file restored from the trash.
	Validators dto.Validators
	Modified   time.Time
	Present    bool
}

// RecordDedupe records changes made by dedupe to machine's plain files at
// time at: a gone file's row becomes DEL; a present file's row gets its new
// validators. Its content (the digests) is the same by construction. Paths
// with no row are left alone.
func (f *Files) RecordDedupe(ctx context.Context, machine string, changes []DedupeChange, at time.Time) error {
	if len(changes) == 0 {
		return nil
	}
	f.t.Add(dto.TagFiles, dto.MachineTag(machine))
	gone, err := f.x.PreparexContext(ctx, f.x.Rebind(`UPDATE files SET operation = 'DEL', scanned = ?
		WHERE machine = ? AND path = ? AND archive_path = '' AND operation <> 'DEL'`))
	if err != nil {
		return fmt.Errorf("record dedupe: %w", err)
	}
	defer gone.Close()
	present, err := f.x.PreparexContext(ctx, f.x.Rebind(`UPDATE files SET size = ?, mtime_ns = ?, ctime_ns = ?,
		inode = ?, device = ?, nlink = ?, modified_sec = ?, modified_nsec = ?,
		operation = CASE WHEN ? THEN 'ADD' ELSE operation END,
		scanned = CASE WHEN ? THEN ? ELSE scanned END
		WHERE machine = ? AND path = ? AND archive_path = ''`))
	if err != nil {
		return fmt.Errorf("record dedupe: %w", err)
	}
	defer present.Close()
	for _, c := range changes {
		if c.Gone {
			_, err = gone.ExecContext(ctx, nanos(at), machine, c.Path)
		} else {
			v := c.Validators
			_, err = present.ExecContext(ctx, v.Size, v.MtimeNS, v.CtimeNS, int64(v.Inode), int64(v.Device), int64(v.Nlink),
				c.Modified.Unix(), int64(c.Modified.Nanosecond()), c.Present, c.Present, nanos(at), machine, c.Path)
		}
		if err != nil {
			return fmt.Errorf("record dedupe of %s: %w", c.Path, err)
		}
	}
	return nil
}
