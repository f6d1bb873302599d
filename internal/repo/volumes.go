package repo

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/indexer/indexer/internal/dto"
)

// Volumes stores the volumes whose files are recorded relative to them, and
// the file system of each root a scan walked.
type Volumes struct {
	x Executor
	t *Touched
}

// NewVolumes returns a Volumes working on x.
func NewVolumes(x Executor) *Volumes { return &Volumes{x: x} }

// Touching makes v record the tags of its writes in t, and returns v.
func (v *Volumes) Touching(t *Touched) *Volumes {
	v.t = t
	return v
}

type volumeRow struct {
	Machine      string `db:"machine"`
	UUID         string `db:"uuid"`
	Label        string `db:"label"`
	FSType       string `db:"fs_type"`
	MountPoint   string `db:"mount_point"`
	Host         string `db:"host"`
	StableInodes int64  `db:"stable_inodes"`
	LastScan     *int64 `db:"last_scan"`
	Fingerprint  string `db:"fingerprint"`
}

func (r volumeRow) dto() dto.Volume {
	v := dto.Volume{Machine: r.Machine, UUID: r.UUID, Label: r.Label, FSType: r.FSType, MountPoint: r.MountPoint,
		Host: r.Host, StableInodes: r.StableInodes != 0, Fingerprint: r.Fingerprint}
	if r.LastScan != nil {
		v.LastScan = *r.LastScan
	}
	return v
}

// Record stores vol, replacing what the catalog held of it.
func (v *Volumes) Record(ctx context.Context, vol dto.Volume) error {
	v.t.Add(dto.TagScans, dto.MachineTag(vol.Machine))
	var last any
	if vol.LastScan != 0 {
		last = vol.LastScan
	}
	_, err := v.x.ExecContext(ctx, v.x.Rebind(`INSERT INTO volumes (machine, uuid, label, fs_type, mount_point, host, stable_inodes, last_scan, fingerprint)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (machine) DO UPDATE SET uuid = excluded.uuid, label = excluded.label, fs_type = excluded.fs_type,
			mount_point = excluded.mount_point, host = excluded.host, stable_inodes = excluded.stable_inodes,
			last_scan = excluded.last_scan, fingerprint = excluded.fingerprint`),
		vol.Machine, vol.UUID, vol.Label, vol.FSType, vol.MountPoint, vol.Host, vol.StableInodes, last, vol.Fingerprint)
	if err != nil {
		return fmt.Errorf("record volume %s: %w", vol.Machine, err)
	}
	return nil
}

// Get returns the volume of machine, and false when machine is no volume's.
func (v *Volumes) Get(ctx context.Context, machine string) (dto.Volume, bool, error) {
	var rows []volumeRow
	if err := v.selectVolumes(ctx, &rows, "WHERE machine = ?", machine); err != nil {
		return dto.Volume{}, false, err
	}
	if len(rows) == 0 {
		return dto.Volume{}, false, nil
	}
	return rows[0].dto(), true, nil
}

// All returns every volume, by label and UUID.
func (v *Volumes) All(ctx context.Context) ([]dto.Volume, error) {
	var rows []volumeRow
	if err := v.selectVolumes(ctx, &rows, "ORDER BY label, uuid, machine"); err != nil {
		return nil, err
	}
	out := make([]dto.Volume, len(rows))
	for i, r := range rows {
		out[i] = r.dto()
	}
	return out, nil
}

func (v *Volumes) selectVolumes(ctx context.Context, rows *[]volumeRow, tail string, args ...any) error {
	err := sqlx.SelectContext(ctx, v.x, rows, v.x.Rebind(`SELECT machine, uuid, label, fs_type, mount_point, host, stable_inodes, last_scan, fingerprint
		FROM volumes `+tail), args...)
	if err != nil {
		return fmt.Errorf("read volumes: %w", err)
	}
	return nil
}

// Totals returns the present plain files of each volume, by machine.
func (v *Volumes) Totals(ctx context.Context) (map[string]dto.VolumeTotals, error) {
	rows, err := v.x.QueryxContext(ctx, `SELECT f.machine, COUNT(*), COALESCE(SUM(f.size), 0) FROM files f
		WHERE f.machine IN (SELECT machine FROM volumes) AND f.operation <> 'DEL' AND f.is_archived = 0
		GROUP BY f.machine`)
	if err != nil {
		return nil, fmt.Errorf("count the files of volumes: %w", err)
	}
	defer rows.Close()
	out := map[string]dto.VolumeTotals{}
	for rows.Next() {
		var m string
		var t dto.VolumeTotals
		if err := rows.Scan(&m, &t.Files, &t.Bytes); err != nil {
			return nil, fmt.Errorf("count the files of volumes: %w", err)
		}
		out[m] = t
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count the files of volumes: %w", err)
	}
	return out, nil
}

// RecordRoots stores the file system of each root of a scan.
func (v *Volumes) RecordRoots(ctx context.Context, roots []dto.ScanRoot) error {
	if len(roots) == 0 {
		return nil
	}
	v.t.Add(dto.TagScans)
	for _, r := range roots {
		if _, err := v.x.ExecContext(ctx, v.x.Rebind(`INSERT INTO scan_roots (scan_id, root, uuid, label, fs_type, mount_point, volume)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (scan_id, root) DO NOTHING`),
			r.ScanID, r.Root, r.UUID, r.Label, r.FSType, r.MountPoint, r.Volume); err != nil {
			return fmt.Errorf("record the file system of %s: %w", r.Root, err)
		}
	}
	return nil
}

// Roots returns the roots recorded for scan id, by path.
func (v *Volumes) Roots(ctx context.Context, id int64) ([]dto.ScanRoot, error) {
	var rows []struct {
		ScanID     int64  `db:"scan_id"`
		Root       string `db:"root"`
		UUID       string `db:"uuid"`
		Label      string `db:"label"`
		FSType     string `db:"fs_type"`
		MountPoint string `db:"mount_point"`
		Volume     string `db:"volume"`
	}
	if err := sqlx.SelectContext(ctx, v.x, &rows, v.x.Rebind(`SELECT scan_id, root, uuid, label, fs_type, mount_point, volume
		FROM scan_roots WHERE scan_id = ? ORDER BY root`), id); err != nil {
		return nil, fmt.Errorf("read the roots of scan %d: %w", id, err)
	}
	out := make([]dto.ScanRoot, len(rows))
	for i, r := range rows {
		out[i] = dto.ScanRoot(r)
	}
	return out, nil
}
