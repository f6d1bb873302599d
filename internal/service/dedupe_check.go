package service

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/uow"
)

// checkPlan refuses, as a *BadQueryError naming the first fault, a plan
// that did not come from this catalog's Plan: one whose version, machine
// or action is not one Apply takes, in which a group keeps no copy, acts
// on the copy it keeps, or a copy appears twice, or which names a file
// that the catalog does not record, present, for this machine, with the
// group's content and the planned fingerprint. Apply makes it with
// ApplyOptions.Untrusted, for plans sent over the network: such a plan can
// only act on files the catalog knows to be copies of one another (and
// Apply still checks each on disk).
func (c *Catalog) checkPlan(ctx context.Context, plan *dto.DedupePlan, machine string) error {
	bad := func(format string, a ...any) error { return &BadQueryError{fmt.Errorf(format, a...)} }
	switch {
	case plan.Version != dto.DedupePlanVersion:
		return bad("plan version %d is not %d, the one this indexer reads", plan.Version, dto.DedupePlanVersion)
	case plan.Machine != machine:
		return bad("the plan is for machine %q and this is %q", plan.Machine, machine)
	}
	switch plan.Action {
	case ActionHardlink, ActionReflink, ActionTrash, ActionDelete:
	default:
		return bad("plan action %q is not one of hardlink, reflink, trash, delete", plan.Action)
	}
	type key struct{ dev, ino uint64 }
	seen := map[key]bool{}
	type want struct {
		sha string
		cp  *dto.DedupeCopy
		n   dto.DedupeName
	}
	var names []want
	for gi := range plan.Groups {
		g := &plan.Groups[gi]
		if len(g.Keep.Names) == 0 {
			return bad("group %d (sha256 %.12s…) keeps no copy; every group must keep one", gi+1, g.SHA256)
		}
		copies := append([]*dto.DedupeCopy{&g.Keep}, ptrs(g.Reference)...)
		copies = append(copies, ptrs(g.Act)...)
		for _, cp := range copies {
			k := key{cp.Device, cp.Inode}
			if seen[k] {
				if cp.Device == g.Keep.Device && cp.Inode == g.Keep.Inode {
					return bad("group %d (sha256 %.12s…) acts on the copy it keeps, %s", gi+1, g.SHA256, firstName(cp))
				}
				return bad("the copy %s appears twice in the plan", firstName(cp))
			}
			seen[k] = true
			if len(cp.Names) == 0 {
				return bad("group %d (sha256 %.12s…) has a copy with no name", gi+1, g.SHA256)
			}
			for _, n := range cp.Names {
				names = append(names, want{g.SHA256, cp, n})
			}
		}
	}
	return c.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		for _, w := range names {
			found := false
			err := r.Files.EachValidatorsAt(ctx, machine, w.n.Path, func(m dto.FileMeta, sum []byte) error {
				if m.ArchivePath != "" || m.Operation == dto.OpDel {
					return nil
				}
				found = hex.EncodeToString(sum) == w.sha && m.Device == w.cp.Device && m.Inode == w.cp.Inode &&
					m.Size == w.n.Size && m.MtimeNS == w.n.MtimeNS && m.CtimeNS == w.n.CtimeNS
				return nil
			})
			if err != nil {
				return err
			}
			if !found {
				return bad("%s is not in the catalog as the plan has it (a copy of sha256 %.12s… with the planned fingerprint); make the plan again", w.n.Path, w.sha)
			}
		}
		return nil
	})
}

// rekeep returns plan with the copies kept in each group chosen again by
// kept (see ApplyOptions.Kept); plan is left as it is.
func rekeep(plan *dto.DedupePlan, kept [][]int) (*dto.DedupePlan, error) {
	if len(kept) != len(plan.Groups) {
		return nil, &BadQueryError{fmt.Errorf("the copies kept are given for %d groups and the plan has %d", len(kept), len(plan.Groups))}
	}
	out := *plan
	out.Groups = make([]dto.DedupeGroup, len(plan.Groups))
	for gi, g := range plan.Groups {
		copies := append([]dto.DedupeCopy{g.Keep}, g.Reference...)
		copies = append(copies, g.Act...)
		keep := make([]bool, len(copies))
		for _, i := range kept[gi] {
			if i < 0 || i >= len(copies) {
				return nil, &BadQueryError{fmt.Errorf("group %d (sha256 %.12s…) has no copy %d", gi+1, g.SHA256, i)}
			}
			keep[i] = true
		}
		ng := dto.DedupeGroup{SHA256: g.SHA256, Size: g.Size}
		for i, cp := range copies {
			switch {
			case !keep[i]:
				ng.Act = append(ng.Act, cp)
			case len(ng.Keep.Names) == 0:
				if i != 0 {
					cp.Rule = "chosen"
				}
				ng.Keep = cp
			default:
				ng.Reference = append(ng.Reference, cp)
			}
		}
		out.Groups[gi] = ng
	}
	return &out, nil
}

func ptrs(cps []dto.DedupeCopy) []*dto.DedupeCopy {
	out := make([]*dto.DedupeCopy, len(cps))
	for i := range cps {
		out[i] = &cps[i]
	}
	return out
}

func firstName(cp *dto.DedupeCopy) string {
	if len(cp.Names) == 0 {
		return fmt.Sprintf("(device %d, inode %d)", cp.Device, cp.Inode)
	}
	return cp.Names[0].Path
}
