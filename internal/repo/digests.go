package repo

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/dto"
)

// The catalog stores digests as raw bytes; they cross this package as
// lower-case hex.

// digestArgs returns h's digests as the raw bytes the files table holds, or
// three nils when h has no SHA256 (a file never hashed).
func digestArgs(h dto.FileHash) (md5, sha1, sha256 any, err error) {
	if h.SHA256 == "" {
		return nil, nil, nil, nil
	}
	raw := make([][]byte, 3)
	for i, d := range []struct {
		name, hex string
		n         int
	}{{"md5", h.MD5, 16}, {"sha1", h.SHA1, 20}, {"sha256", h.SHA256, 32}} {
		b, err := hex.DecodeString(d.hex)
		if err != nil || len(b) != d.n {
			return nil, nil, nil, fmt.Errorf("%s %q is not %d bytes of hexadecimal", d.name, d.hex, d.n)
		}
		raw[i] = b
	}
	return raw[0], raw[1], raw[2], nil
}

// someDigestArgs is digestArgs for an import, which may give only some of
// the digests: those given must be well formed, the others are NULL.
func someDigestArgs(h dto.FileHash) (md5, sha1, sha256 any, err error) {
	raw := make([]any, 3)
	for i, d := range []struct {
		name, hex string
		n         int
	}{{"md5", h.MD5, 16}, {"sha1", h.SHA1, 20}, {"sha256", h.SHA256, 32}} {
		if d.hex == "" {
			continue
		}
		b, err := hex.DecodeString(d.hex)
		if err != nil || len(b) != d.n {
			return nil, nil, nil, fmt.Errorf("%s %q is not %d bytes of hexadecimal", d.name, d.hex, d.n)
		}
		raw[i] = b
	}
	return raw[0], raw[1], raw[2], nil
}

// hexOf returns b in lower-case hex, "" for none.
func hexOf(b []byte) string { return hex.EncodeToString(b) }

// digestRow is a content as the files table holds it.
type digestRow struct {
	Size   int64  `db:"size"`
	MD5    []byte `db:"md5"`
	SHA1   []byte `db:"sha1"`
	SHA256 []byte `db:"sha256"`
}

func (r digestRow) dto() dto.FileHash {
	return dto.FileHash{Size: r.Size, MD5: hexOf(r.MD5), SHA1: hexOf(r.SHA1), SHA256: hexOf(r.SHA256)}
}

// ContentByDigest returns the content whose md5, sha1 or sha256 is hexDigest
// (told apart by length), and whether the catalog holds it in any row.
func (f *Files) ContentByDigest(ctx context.Context, hexDigest string) (dto.FileHash, bool, error) {
	col, raw, err := digestParam(hexDigest)
	if err != nil {
		return dto.FileHash{}, false, err
	}
	var r digestRow
	err = sqlx.GetContext(ctx, f.x, &r, f.x.Rebind("SELECT size, md5, sha1, sha256 FROM files WHERE "+col+" = ? LIMIT 1"), raw)
	if isNoRows(err) {
		return dto.FileHash{}, false, nil
	}
	if err != nil {
		return dto.FileHash{}, false, fmt.Errorf("find content: %w", err)
	}
	return r.dto(), true, nil
}

// digestParam returns the column for a hex digest and its raw bytes.
func digestParam(hexDigest string) (col string, raw []byte, err error) {
	col, err = DigestColumn(hexDigest)
	if err != nil {
		return "", nil, err
	}
	raw, err = hex.DecodeString(hexDigest)
	return col, raw, err
}

// DigestColumn names the files column for a hex digest of the given length.
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
