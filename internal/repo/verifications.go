package repo

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/db"
	"github.com/indexer/indexer/internal/dto"
)

// Verifications stores the last verification of each file, by file id.
type Verifications struct {
	x Executor
	t *Touched
}

// NewVerifications returns a Verifications working on x.
func NewVerifications(x Executor) *Verifications { return &Verifications{x: x} }

// Touching makes v record the tags of its writes in t, and returns v.
func (v *Verifications) Touching(t *Touched) *Verifications {
	v.t = t
	return v
}

// Record stores vs, replacing each file's earlier verification. One
// prepared statement runs per row: rows of an INTEGER PRIMARY KEY table, so
// each is one small B-tree write; callers pass chunks in file-id order.
func (v *Verifications) Record(ctx context.Context, vs []dto.Verification) error {
	v.t.Add(dto.TagVerifications)
	if len(vs) == 0 {
		return nil
	}
	st, err := v.x.PreparexContext(ctx, v.x.Rebind(`INSERT INTO verifications (file_id, verified, outcome,
			expected_sha256, actual_md5, actual_sha1, actual_sha256, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (file_id) DO UPDATE SET verified = excluded.verified, outcome = excluded.outcome,
			expected_sha256 = excluded.expected_sha256, actual_md5 = excluded.actual_md5,
			actual_sha1 = excluded.actual_sha1, actual_sha256 = excluded.actual_sha256, detail = excluded.detail`))
	if err != nil {
		return fmt.Errorf("record verifications: %w", err)
	}
	defer st.Close()
	for _, r := range vs {
		expected, err := rawDigest(r.Expected.SHA256)
		if err != nil {
			return fmt.Errorf("record verification of file %d: %w", r.FileID, err)
		}
		md5, sha1, sha256, err := digestArgs(r.Actual)
		if err != nil {
			return fmt.Errorf("record verification of file %d: %w", r.FileID, err)
		}
		if _, err := st.ExecContext(ctx, r.FileID, r.Verified.UnixNano(), string(r.Outcome), expected,
			md5, sha1, sha256, r.Detail); err != nil {
			return fmt.Errorf("record verifications: %w", err)
		}
	}
	return nil
}

const verifyColumns = `f.id, f.path, f.archive_path, f.size, f.mtime_ns, f.inode, f.device, f.md5, f.sha1, f.sha256, COALESCE(v.verified, 0)`

func (v *Verifications) where(sel dto.VerifySelect, plain bool) (string, []any) {
	q := " FROM files f LEFT JOIN verifications v ON v.file_id = f.id WHERE f.machine = ? AND f.operation <> 'DEL' AND f.sha256 IS NOT NULL"
	args := []any{sel.Machine}
	if plain {
		q += " AND f.archive_path = ''"
	}
	if len(sel.Under) > 0 {
		q += " AND ("
		for i, u := range sel.Under {
			if i > 0 {
				q += " OR "
			}
			cond, a := underCond("f.path", u)
			q += cond
			args = append(args, a...)
		}
		q += ")"
	}
	if !sel.Before.IsZero() {
		q += " AND (v.verified IS NULL OR v.verified < ?)"
		args = append(args, sel.Before.UnixNano())
	}
	return q, args
}

// EachPlain calls fn with the plain files (not archive entries) sel
// chooses. With byAge, they come least recently verified first (never
// verified before all), else in path order. It streams.
func (v *Verifications) EachPlain(ctx context.Context, sel dto.VerifySelect, byAge bool, fn func(dto.VerifyTarget) error) error {
	q, args := v.where(sel, true)
	order := " ORDER BY f.path"
	if byAge {
		order = " ORDER BY COALESCE(v.verified, 0), f.id"
	}
	rows, err := v.x.QueryContext(ctx, v.x.Rebind("SELECT "+verifyColumns+q+order), args...)
	if err != nil {
		return fmt.Errorf("list files to verify: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		t, err := scanTarget(rows)
		if err != nil {
			return fmt.Errorf("list files to verify: %w", err)
		}
		if err := fn(t); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list files to verify: %w", err)
	}
	return nil
}

// CountPlain returns the number of plain files sel chooses.
func (v *Verifications) CountPlain(ctx context.Context, sel dto.VerifySelect) (int64, error) {
	q, args := v.where(sel, true)
	var n int64
	if err := sqlx.GetContext(ctx, v.x, &n, v.x.Rebind("SELECT COUNT(*)"+q), args...); err != nil {
		return 0, fmt.Errorf("count files to verify: %w", err)
	}
	return n, nil
}

// Entries returns the present, hashed entries the catalog holds of the
// archive at path on machine, by inner path.
func (v *Verifications) Entries(ctx context.Context, machine, path string) (map[string]dto.VerifyTarget, error) {
	rows, err := v.x.QueryContext(ctx, v.x.Rebind("SELECT "+verifyColumns+
		` FROM files f LEFT JOIN verifications v ON v.file_id = f.id
		WHERE f.machine = ? AND f.path = ? AND f.archive_path <> '' AND f.operation <> 'DEL' AND f.sha256 IS NOT NULL`), machine, path)
	if err != nil {
		return nil, fmt.Errorf("list entries of %s: %w", path, err)
	}
	defer rows.Close()
	out := map[string]dto.VerifyTarget{}
	for rows.Next() {
		t, err := scanTarget(rows)
		if err != nil {
			return nil, fmt.Errorf("list entries of %s: %w", path, err)
		}
		out[t.ArchivePath] = t
	}
	return out, rows.Err()
}

func scanTarget(rows *sql.Rows) (dto.VerifyTarget, error) {
	var t dto.VerifyTarget
	var md5, sha1, sha256 []byte
	var verified, inode, device int64
	if err := rows.Scan(&t.FileID, &t.Path, &t.ArchivePath, &t.Size, &t.MtimeNS, &inode, &device, &md5, &sha1, &sha256, &verified); err != nil {
		return t, err
	}
	t.Inode, t.Device = uint64(inode), uint64(device)
	t.Hash = dto.FileHash{Size: t.Size, MD5: hexOf(md5), SHA1: hexOf(sha1), SHA256: hexOf(sha256)}
	t.Verified = fromNanos(verified)
	return t, nil
}

// Accept stores hash as the content of file id, as the file's row would
// after a rescan found it modified, and records it verified ok at now.
func (v *Verifications) Accept(ctx context.Context, id int64, hash dto.FileHash, now time.Time) error {
	md5, sha1, sha256, err := digestArgs(hash)
	if err != nil {
		return fmt.Errorf("accept file %d: %w", id, err)
	}
	var machine, dir string
	var archived bool
	if err := v.x.QueryRowxContext(ctx, v.x.Rebind("UPDATE files SET md5 = ?, sha1 = ?, sha256 = ?, size = ?, operation = 'MOD' WHERE id = ? RETURNING machine, "+db.DialectOf(v.x).FileDir()+", is_archived"),
		md5, sha1, sha256, hash.Size, id).Scan(&machine, &dir, &archived); err != nil {
		return fmt.Errorf("accept file %d: %w", id, err)
	}
	v.t.Add(dto.TagFiles, dto.MachineTag(machine))
	if !archived {
		// The file's directory keeps its digests, but without its stored
		// entries: the next scan of the machine computes them again from the
		// rows (see Dirs.Unsettled), as no scan writes this row if the file
		// does not change.
		v.t.Add(dto.TagDirs)
		if _, err := v.x.ExecContext(ctx, v.x.Rebind("UPDATE dirs SET entries = NULL WHERE machine = ? AND path = ?"), machine, DirOf(dir)); err != nil {
			return fmt.Errorf("accept file %d: %w", id, err)
		}
	}
	return v.Record(ctx, []dto.Verification{{FileID: id, Verified: now, Outcome: dto.VerifyOK, Expected: hash, Actual: hash}})
}

// Summary returns when any file was last verified, how many files have
// been, and the corruption found and not resolved since: the file's row
// still carries the content it was found to differ from.
func (v *Verifications) Summary(ctx context.Context) (dto.VerifySummary, error) {
	var s dto.VerifySummary
	var last int64
	if err := v.x.QueryRowxContext(ctx, "SELECT COALESCE(MAX(verified), 0), COUNT(*) FROM verifications").Scan(&last, &s.Verified); err != nil {
		return s, fmt.Errorf("read verifications: %w", err)
	}
	s.LastVerified = fromNanos(last)
	rows, err := v.x.QueryContext(ctx, `SELECT f.machine, f.path, f.archive_path, v.verified, v.expected_sha256, v.actual_sha256
		FROM verifications v JOIN files f ON f.id = v.file_id
		WHERE v.outcome = 'corrupt' AND f.operation <> 'DEL' AND f.sha256 = v.expected_sha256
		ORDER BY f.machine, f.path, f.archive_path`)
	if err != nil {
		return s, fmt.Errorf("read corruption found: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c dto.CorruptFile
		var at int64
		var expected, actual []byte
		if err := rows.Scan(&c.Machine, &c.Path, &c.ArchivePath, &at, &expected, &actual); err != nil {
			return s, fmt.Errorf("read corruption found: %w", err)
		}
		c.Verified, c.Expected, c.Actual = fromNanos(at), hexOf(expected), hexOf(actual)
		s.Corrupt = append(s.Corrupt, c)
	}
	return s, rows.Err()
}
