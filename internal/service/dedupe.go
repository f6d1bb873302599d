package service

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/match"
	"github.com/indexer/indexer/internal/uow"
)

// Dedupe actions.
const (
	ActionHardlink = "hardlink"
	ActionReflink  = "reflink"
	ActionTrash    = "trash"
	ActionDelete   = "delete"
)

// DedupePlanOptions select what Plan plans.
type DedupePlanOptions struct {
	// Dupes selects the groups, as for Dupes. Its Machine must be this
	// machine: only its files can be acted on. Archive entries never take part.
	Dupes DupesOptions
	// Action is one of ActionHardlink, ActionReflink, ActionTrash, ActionDelete.
	Action string
	// Keep are the keep rules, tried in order (see ParseKeepRule); path
	// order breaks the ties left.
	Keep []string
	// Reference are absolute paths whose files are never acted on.
	Reference []string
	// Dirs plans from the groups of identical directories (see DupeDirs)
	// instead of files: in each, one directory is kept and the files of
	// the others are acted on, each against its counterpart in the kept
	// one. Content groups directories holding the same files in any
	// layout. Only Dupes' Machine, Under (one path at most) and MinSize (of
	// a directory) apply.
	Dirs, Content bool
}

// keepRule orders two copies for keeping: negative when a is the better one
// to keep.
type keepRule struct {
	name string
	cmp  func(a, b *planCopy) int
}

// planCopy is a copy being planned, with what the rules look at.
type planCopy struct {
	dto.DedupeCopy
	mtime int64
	first string // the first name in path order
}

// ParseKeepRule checks one keep rule: oldest, newest, shortest-path,
// longest-path, shallowest, deepest, under:PATH, not-under:PATH (PATH
// absolute).
func parseKeepRule(s string) (keepRule, error) {
	pathLen := func(c *planCopy) int { return len(c.first) }
	depth := func(c *planCopy) int { return strings.Count(c.first, "/") }
	anyUnder := func(root string) func(c *planCopy) bool {
		return func(c *planCopy) bool {
			return slices.ContainsFunc(c.Names, func(n dto.DedupeName) bool { return isUnder(n.Path, root) })
		}
	}
	prefer := func(yes func(*planCopy) bool) func(a, b *planCopy) int {
		return func(a, b *planCopy) int {
			ya, yb := yes(a), yes(b)
			switch {
			case ya && !yb:
				return -1
			case yb && !ya:
				return 1
			}
			return 0
		}
	}
	switch {
	case s == "oldest":
		return keepRule{s, func(a, b *planCopy) int { return cmp.Compare(a.mtime, b.mtime) }}, nil
	case s == "newest":
		return keepRule{s, func(a, b *planCopy) int { return cmp.Compare(b.mtime, a.mtime) }}, nil
	case s == "shortest-path":
		return keepRule{s, func(a, b *planCopy) int { return cmp.Compare(pathLen(a), pathLen(b)) }}, nil
	case s == "longest-path":
		return keepRule{s, func(a, b *planCopy) int { return cmp.Compare(pathLen(b), pathLen(a)) }}, nil
	case s == "shallowest":
		return keepRule{s, func(a, b *planCopy) int { return cmp.Compare(depth(a), depth(b)) }}, nil
	case s == "deepest":
		return keepRule{s, func(a, b *planCopy) int { return cmp.Compare(depth(b), depth(a)) }}, nil
	case strings.HasPrefix(s, "under:") || strings.HasPrefix(s, "not-under:"):
		kind, root, _ := strings.Cut(s, ":")
		if !strings.HasPrefix(root, "/") {
			return keepRule{}, fmt.Errorf("keep rule %q: the path must be absolute", s)
		}
		root = cleanRoot(root)
		under := anyUnder(root)
		if kind == "not-under" {
			return keepRule{kind + ":" + root, prefer(func(c *planCopy) bool { return !under(c) })}, nil
		}
		return keepRule{kind + ":" + root, prefer(under)}, nil
	}
	return keepRule{}, fmt.Errorf("keep rule %q is not one of oldest, newest, shortest-path, longest-path, shallowest, deepest, under:PATH, not-under:PATH", s)
}

// cleanRoot drops a trailing slash, except from "/".
func cleanRoot(p string) string {
	if len(p) > 1 {
		return strings.TrimRight(p, "/")
	}
	return p
}

// isUnder reports whether p is root or lies below it.
func isUnder(p, root string) bool {
	if root == "/" {
		return strings.HasPrefix(p, "/")
	}
	return p == root || strings.HasPrefix(p, root+"/")
}

// Plan builds a dedupe plan: for each group of identical files of
// o.Dupes.Machine, the copy kept and the copies acted on. Names of one inode
// are one copy and share its fate. For hardlink and reflink a group is split
// by file system, each part keeping one copy. A copy with a name below a
// reference path is never acted on, and is kept in preference to any other.
// Every group keeps a copy, whatever the rules. A bad rule, action or
// pattern is a *BadQueryError.
func (c *Catalog) Plan(ctx context.Context, o DedupePlanOptions) (dto.DedupePlan, error) {
	switch o.Action {
	case ActionHardlink, ActionReflink, ActionTrash, ActionDelete:
	default:
		return dto.DedupePlan{}, &BadQueryError{fmt.Errorf("action %q is not one of hardlink, reflink, trash, delete", o.Action)}
	}
	if o.Dupes.Machine == "" {
		return dto.DedupePlan{}, &BadQueryError{fmt.Errorf("the machine to plan for is empty")}
	}
	var rules []keepRule
	for _, s := range o.Keep {
		r, err := parseKeepRule(s)
		if err != nil {
			return dto.DedupePlan{}, &BadQueryError{err}
		}
		rules = append(rules, r)
	}
	refs := make([]string, len(o.Reference))
	for i, r := range o.Reference {
		if !strings.HasPrefix(r, "/") {
			return dto.DedupePlan{}, &BadQueryError{fmt.Errorf("reference path %q is not absolute", r)}
		}
		refs[i] = cleanRoot(r)
	}
	plan := dto.DedupePlan{Version: dto.DedupePlanVersion, Machine: o.Dupes.Machine, Action: o.Action,
		Keep: make([]string, 0, len(rules)), Reference: refs}
	for _, r := range rules {
		plan.Keep = append(plan.Keep, r.name)
	}
	do := o.Dupes
	do.IncludeArchived = false
	if do.Name != "" {
		if _, err := match.Glob(do.Name, false); err != nil {
			return dto.DedupePlan{}, &BadQueryError{err}
		}
	}
	if o.Dirs {
		return c.planDirs(ctx, o, plan, rules, refs)
	}
	if o.Content {
		return dto.DedupePlan{}, &BadQueryError{fmt.Errorf("--content goes with --dirs")}
	}
	var groups []dto.DupeGroup
	err := c.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		groups = groups[:0]
		var paths []string
		if err := r.Files.Dupes(ctx, do.filter(), func(g dto.DupeGroup) error {
			groups = append(groups, g)
			for _, f := range g.Files {
				paths = append(paths, f.Path)
			}
			return nil
		}); err != nil {
			return err
		}
		metas, err := r.Files.GetByPaths(ctx, do.Machine, paths)
		if err != nil {
			return err
		}
		for _, g := range groups {
			plan.Groups = append(plan.Groups, planGroups(g, metas, o.Action, rules, refs)...)
		}
		return nil
	})
	return plan, err
}

// planGroups plans one group of Dupes: it gathers the names of each inode
// into a copy, splits by file system for the link actions, and picks the
// copy to keep in each part.
func planGroups(g dto.DupeGroup, metas map[string]dto.FileMeta, action string, rules []keepRule, refs []string) []dto.DedupeGroup {
	type key struct{ dev, ino uint64 }
	copies := map[key]*planCopy{}
	var order []*planCopy
	for _, f := range g.Files {
		m, ok := metas[f.Path]
		if !ok || f.ArchivePath != "" || m.Operation == dto.OpDel || m.Inode == 0 {
			continue
		}
		if strings.Contains(m.Path, "/"+TrashDirName+"/") {
			continue // already in a trash: neither a copy to keep nor one to act on
		}
		k := key{m.Device, m.Inode}
		pc := copies[k]
		if pc == nil {
			pc = &planCopy{DedupeCopy: dto.DedupeCopy{Device: m.Device, Inode: m.Inode}, mtime: m.MtimeNS, first: m.Path}
			copies[k] = pc
			order = append(order, pc)
		}
		pc.Names = append(pc.Names, dto.DedupeName{Path: m.Path, Size: m.Size, MtimeNS: m.MtimeNS, CtimeNS: m.CtimeNS})
		pc.first = min(pc.first, m.Path)
	}
	parts := [][]*planCopy{order}
	if action == ActionHardlink || action == ActionReflink {
		byDev := map[uint64][]*planCopy{}
		var devs []uint64
		for _, pc := range order {
			if byDev[pc.Device] == nil {
				devs = append(devs, pc.Device)
			}
			byDev[pc.Device] = append(byDev[pc.Device], pc)
		}
		parts = parts[:0]
		for _, d := range devs {
			parts = append(parts, byDev[d])
		}
	}
	var out []dto.DedupeGroup
	for _, part := range parts {
		if dg, ok := planPart(g, part, rules, refs); ok {
			out = append(out, dg)
		}
	}
	return out
}

// planPart picks the copy to keep among part and returns the group, or
// false when nothing is left to act on.
func planPart(g dto.DupeGroup, part []*planCopy, rules []keepRule, refs []string) (dto.DedupeGroup, bool) {
	if len(part) < 2 {
		return dto.DedupeGroup{}, false
	}
	isRef := refTest(refs)
	order := keepOrder(rules, isRef)
	for _, pc := range part {
		slices.SortFunc(pc.Names, func(a, b dto.DedupeName) int { return strings.Compare(a.Path, b.Path) })
	}
	slices.SortStableFunc(part, func(a, b *planCopy) int { c, _ := order(a, b); return c })
	kept := part[0]
	_, kept.Rule = order(kept, part[1])
	dg := dto.DedupeGroup{SHA256: g.SHA256, Size: g.Size, Keep: kept.DedupeCopy}
	for _, pc := range part[1:] {
		if isRef(pc) {
			pc.Rule = "reference"
			dg.Reference = append(dg.Reference, pc.DedupeCopy)
			continue
		}
		_, pc.Rule = order(kept, pc)
		dg.Act = append(dg.Act, pc.DedupeCopy)
	}
	return dg, len(dg.Act) > 0
}

// refTest returns whether a copy has a name below one of refs.
func refTest(refs []string) func(pc *planCopy) bool {
	return func(pc *planCopy) bool {
		return slices.ContainsFunc(pc.Names, func(n dto.DedupeName) bool {
			return slices.ContainsFunc(refs, func(r string) bool { return isUnder(n.Path, r) })
		})
	}
}

// keepOrder orders copies for keeping, best first, and names what decided:
// reference copies come first; then the rules; then path order.
func keepOrder(rules []keepRule, isRef func(*planCopy) bool) func(a, b *planCopy) (int, string) {
	return func(a, b *planCopy) (int, string) {
		ra, rb := isRef(a), isRef(b)
		if ra != rb {
			if ra {
				return -1, "reference"
			}
			return 1, "reference"
		}
		for _, r := range rules {
			if c := r.cmp(a, b); c != 0 {
				return c, r.name
			}
		}
		return strings.Compare(a.first, b.first), "path order"
	}
}
