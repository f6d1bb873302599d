package repo

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/dto"
)

// Hashes stores distinct contents.
type Hashes struct{ x Executor }

// NewHashes returns a Hashes working on x.
func NewHashes(x Executor) *Hashes { return &Hashes{x: x} }

type hashRow struct {
	ID     int64  `db:"id"`
	Size   int64  `db:"size"`
	MD5    string `db:"md5"`
	SHA1   string `db:"sha1"`
	SHA256 string `db:"sha256"`
}

func (r hashRow) dto() dto.FileHash {
	return dto.FileHash{ID: r.ID, Size: r.Size, MD5: r.MD5, SHA1: r.SHA1, SHA256: r.SHA256}
}

// FindOrCreateMany makes sure every content in hs has a row and returns the ids
// by sha256. New contents cost one INSERT … RETURNING per ChunkSize rows; only
// contents that already existed are looked up, by one SELECT per chunk.
func (h *Hashes) FindOrCreateMany(ctx context.Context, hs []dto.FileHash) (map[string]int64, error) {
	ids := make(map[string]int64, len(hs))
	for start := 0; start < len(hs); start += ChunkSize {
		chunk := hs[start:min(start+ChunkSize, len(hs))]
		args := make([]any, 0, len(chunk)*4)
		seen := make(map[string]bool, len(chunk))
		rows := 0
		for _, c := range chunk {
			if seen[c.SHA256] {
				continue // one statement must not name a key twice
			}
			seen[c.SHA256] = true
			args = append(args, c.Size, c.MD5, c.SHA1, c.SHA256)
			rows++
		}
		q := "INSERT INTO hashes (size, md5, sha1, sha256) VALUES " + placeholders(rows, 4) +
			" ON CONFLICT (sha256) DO NOTHING RETURNING id, sha256"
		if err := scanIDs(ctx, h.x, h.x.Rebind(q), args, ids); err != nil {
			return nil, fmt.Errorf("insert hashes: %w", err)
		}
		var missing []string
		for sum := range seen {
			if _, ok := ids[sum]; !ok {
				missing = append(missing, sum)
			}
		}
		if len(missing) == 0 {
			continue
		}
		q, qargs, err := sqlx.In("SELECT id, sha256 FROM hashes WHERE sha256 IN (?)", missing)
		if err != nil {
			return nil, err
		}
		if err := scanIDs(ctx, h.x, h.x.Rebind(q), qargs, ids); err != nil {
			return nil, fmt.Errorf("select hash ids: %w", err)
		}
	}
	return ids, nil
}

// scanIDs runs q and adds its (id, sha256) rows to ids.
func scanIDs(ctx context.Context, x Executor, q string, args []any, ids map[string]int64) error {
	rows, err := x.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var sum string
		if err := rows.Scan(&id, &sum); err != nil {
			return err
		}
		ids[sum] = id
	}
	return rows.Err()
}

// ByDigest returns the content whose md5, sha1 or sha256 is hex (told apart by
// length), and whether there is one.
func (h *Hashes) ByDigest(ctx context.Context, hex string) (dto.FileHash, bool, error) {
	col, err := DigestColumn(hex)
	if err != nil {
		return dto.FileHash{}, false, err
	}
	var r hashRow
	err = sqlx.GetContext(ctx, h.x, &r, h.x.Rebind("SELECT id, size, md5, sha1, sha256 FROM hashes WHERE "+col+" = ? LIMIT 1"), hex)
	if isNoRows(err) {
		return dto.FileHash{}, false, nil
	}
	if err != nil {
		return dto.FileHash{}, false, fmt.Errorf("find hash: %w", err)
	}
	return r.dto(), true, nil
}

// Count returns the number of distinct contents.
func (h *Hashes) Count(ctx context.Context) (int64, error) {
	var n int64
	err := sqlx.GetContext(ctx, h.x, &n, "SELECT COUNT(*) FROM hashes")
	return n, err
}

// DigestColumn names the hashes column for a hex digest of the given length.
func DigestColumn(hex string) (string, error) {
	for _, c := range hex {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", fmt.Errorf("hash %q is not lower-case hexadecimal", hex)
		}
	}
	switch len(hex) {
	case 32:
		return "md5", nil
	case 40:
		return "sha1", nil
	case 64:
		return "sha256", nil
	}
	return "", fmt.Errorf("hash %q has %d hex digits; md5 has 32, sha1 40, sha256 64", hex, len(hex))
}
