package service_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/service"
	"github.com/indexer/indexer/internal/uow"
)

// BenchmarkDiff1M times diff on the 1,000,000-file catalog after a scan
// that changed 1% of the files: a third modified, a third deleted, a third
// moved to another directory. The issue asks for less than a second.
func BenchmarkDiff1M(b *testing.B) {
	c := bigCatalog(b)
	ctx := context.Background()
	var scanID int64
	err := c.UoW().Do(ctx, "bench.changes", func(ctx context.Context, r *uow.Repos) error {
		var files []dto.FileMeta
		i := 0
		err := r.Files.EachUnder(ctx, "laptop", "/home/alice", func(m dto.FileMeta) error {
			if i++; i%50 == 0 && m.Operation != dto.OpDel && m.ArchivePath == "" {
				files = append(files, m)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if scanID, err = r.Scans.Create(ctx, dto.Scan{Machine: "laptop", Roots: []string{"/home/alice"}, Started: time.Now()}); err != nil {
			return err
		}
		var changes []dto.Change
		for k, m := range files {
			old := fmt.Sprintf("%x", sha256.Sum256(binary.LittleEndian.AppendUint64(nil, uint64(m.ID))))
			ch := dto.Change{ScanID: scanID, Machine: "laptop", Path: m.Path, OldSize: m.Size, OldSHA256: old}
			switch k % 3 {
			case 0:
				s := sha256.Sum256([]byte(m.Path))
				ch.Op, ch.NewSize, ch.NewSHA256 = dto.OpMod, m.Size+1, hex.EncodeToString(s[:])
			case 1:
				ch.Op = dto.OpDel
			case 2:
				ch.Op = dto.OpDel
				changes = append(changes, dto.Change{ScanID: scanID, Machine: "laptop", Path: "/home/alice/moved" + m.Path,
					Op: dto.OpAdd, NewSize: m.Size, NewSHA256: old})
			}
			changes = append(changes, ch)
		}
		return r.Changes.Record(ctx, changes)
	})
	if err != nil {
		b.Fatal(err)
	}
	var d dto.Diff
	for b.Loop() {
		d, err = c.Diff(ctx, service.DiffOptions{Machine: "laptop", Since: service.Bound{Scan: scanID - 1}})
		if err != nil {
			b.Fatal(err)
		}
	}
	if d.Totals.Modified == 0 || d.Totals.Deleted == 0 || d.Totals.Moved == 0 {
		b.Fatalf("diff found %+v; want modified, deleted and moved files", d.Totals)
	}
	b.ReportMetric(float64(d.Totals.Modified+d.Totals.Deleted+d.Totals.Moved), "files")
}
