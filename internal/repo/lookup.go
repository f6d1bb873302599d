package repo

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/dto"
)

// Locations returns where the content with digest sha256 lives: every present
// file and archive entry of any machine, ordered by machine, path and archive
// path, each with the size, modification time (ns), device and inode the
// catalog recorded of the file on disk: for an archive entry, of its archive
// (size -1 when the archive has no row). None is an empty slice.
func (f *Files) Locations(ctx context.Context, sha256 string) ([]dto.StoredLocation, error) {
	raw, err := hex.DecodeString(sha256)
	if err != nil || len(raw) != 32 {
		return nil, fmt.Errorf("sha256 %q is not 32 bytes of hexadecimal", sha256)
	}
	var rows []struct {
		Machine     string `db:"machine"`
		Path        string `db:"path"`
		ArchivePath string `db:"archive_path"`
		Size        int64  `db:"size"`
		MtimeNS     int64  `db:"mtime_ns"`
		Device      int64  `db:"device"`
		Inode       int64  `db:"inode"`
	}
	// An entry's archive is the row of the same machine and path without an
	// archive path: one lookup in the unique index.
	err = sqlx.SelectContext(ctx, f.x, &rows, f.x.Rebind(`SELECT f.machine, f.path, f.archive_path,
			CASE WHEN f.archive_path = '' THEN f.size ELSE COALESCE(a.size, -1) END AS size,
			CASE WHEN f.archive_path = '' THEN f.mtime_ns ELSE COALESCE(a.mtime_ns, 0) END AS mtime_ns,
			CASE WHEN f.archive_path = '' THEN f.device ELSE 0 END AS device,
			CASE WHEN f.archive_path = '' THEN f.inode ELSE 0 END AS inode
		FROM files f
		LEFT JOIN files a ON f.archive_path <> '' AND a.machine = f.machine AND a.path = f.path
			AND a.archive_path = '' AND a.operation <> 'DEL'
		WHERE f.sha256 = ? AND f.operation <> 'DEL'
		ORDER BY f.machine, f.path, f.archive_path`), raw)
	if err != nil {
		return nil, fmt.Errorf("find locations: %w", err)
	}
	out := make([]dto.StoredLocation, len(rows))
	for i, r := range rows {
		out[i] = dto.StoredLocation{Location: dto.Location{Machine: r.Machine, Path: r.Path, ArchivePath: r.ArchivePath},
			Size: r.Size, MtimeNS: r.MtimeNS, Device: uint64(r.Device), Inode: uint64(r.Inode)}
	}
	return out, nil
}
