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
// path. None is an empty slice.
func (f *Files) Locations(ctx context.Context, sha256 string) ([]dto.Location, error) {
	raw, err := hex.DecodeString(sha256)
	if err != nil || len(raw) != 32 {
		return nil, fmt.Errorf("sha256 %q is not 32 bytes of hexadecimal", sha256)
	}
	var rows []struct {
		Machine     string `db:"machine"`
		Path        string `db:"path"`
		ArchivePath string `db:"archive_path"`
	}
	err = sqlx.SelectContext(ctx, f.x, &rows, f.x.Rebind(`SELECT f.machine, f.path, f.archive_path
		FROM files f WHERE f.sha256 = ? AND f.operation <> 'DEL'
		ORDER BY f.machine, f.path, f.archive_path`), raw)
	if err != nil {
		return nil, fmt.Errorf("find locations: %w", err)
	}
	out := make([]dto.Location, len(rows))
	for i, r := range rows {
		out[i] = dto.Location(r)
	}
	return out, nil
}
