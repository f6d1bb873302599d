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
// by sha256. It costs two statements per ChunkSize contents, not one per row.
func (h *Hashes) FindOrCreateMany(ctx context.Context, hs []dto.FileHash) (map[string]int64, error) {
	ids := make(map[string]int64, len(hs))
	for start := 0; start < len(hs); start += ChunkSize {
		chunk := hs[start:min(start+ChunkSize, len(hs))]
		args := make([]any, 0, len(chunk)*4)
		keys := make([]string, 0, len(chunk))
		for _, c := range chunk {
			args = append(args, c.Size, c.MD5, c.SHA1, c.SHA256)
			keys = append(keys, c.SHA256)
		}
		q := "INSERT INTO hashes (size, md5, sha1, sha256) VALUES " + placeholders(len(chunk), 4) +
			" ON CONFLICT (sha256) DO NOTHING"
		if _, err := h.x.ExecContext(ctx, h.x.Rebind(q), args...); err != nil {
			return nil, fmt.Errorf("insert hashes: %w", err)
		}
		q, qargs, err := sqlx.In("SELECT id, sha256 FROM hashes WHERE sha256 IN (?)", keys)
		if err != nil {
			return nil, err
		}
		rows, err := h.x.QueryxContext(ctx, h.x.Rebind(q), qargs...)
		if err != nil {
			return nil, fmt.Errorf("select hash ids: %w", err)
		}
		for rows.Next() {
			var id int64
			var sum string
			if err := rows.Scan(&id, &sum); err != nil {
				rows.Close()
				return nil, err
			}
			ids[sum] = id
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return ids, nil
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
