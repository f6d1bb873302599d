package service

import (
	"context"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/uow"
)

// dirFile is a present file below a directory of a directory group.
type dirFile struct {
	m   dto.FileMeta
	sha string
	rel string // its path below the directory
}

type devIno struct{ dev, ino uint64 }

// planDirs plans from the groups of identical directories of
// o.Dupes.Machine: in each, the keep rules choose the directory kept (a
// directory's time, for oldest and newest, is the earliest modification
// time of its files; a directory below a reference path is kept first and
// the others below one are left alone). Each file of the other directories
// is acted on against its counterpart in the kept one: the file at the same
// relative path with the same content, or with Content any file of the same
// content. Files become plan groups like those of file plans, so apply
// checks each one as usual. No inode is both kept and acted on, nor acted
// on twice; a file with no counterpart is left alone.
func (c *Catalog) planDirs(ctx context.Context, o DedupePlanOptions, plan dto.DedupePlan, rules []keepRule, refs []string) (dto.DedupePlan, error) {
	switch {
	case o.Dupes.Name != "" || o.Dupes.MaxSize != nil:
		return plan, &BadQueryError{fmt.Errorf("--name and --max-size do not go with --dirs: a directory is kept or acted on whole")}
	case len(o.Dupes.Under) > 1:
		return plan, &BadQueryError{fmt.Errorf("--dirs takes one PATH (or --under PATH), not %d", len(o.Dupes.Under))}
	}
	do := DirDupesOptions{Machine: o.Dupes.Machine, MinSize: o.Dupes.MinSize, Content: o.Content}
	if len(o.Dupes.Under) == 1 {
		do.Under = o.Dupes.Under[0]
	}
	groups, _, err := c.DupeDirs(ctx, do)
	if err != nil {
		return plan, err
	}
	linkAction := o.Action == ActionHardlink || o.Action == ActionReflink
	err = c.uow.Read(ctx, func(ctx context.Context, r *uow.Repos) error {
		kept, acted := map[devIno]bool{}, map[devIno]bool{}
		for _, dg := range groups {
			dirs := make([]*planCopy, len(dg.Dirs))
			files := map[*planCopy][]dirFile{}
			for i, d := range dg.Dirs {
				pc := &planCopy{first: d.Path, DedupeCopy: dto.DedupeCopy{Names: []dto.DedupeName{{Path: d.Path}}}}
				dirs[i] = pc
				err := r.Files.EachValidatorsUnder(ctx, o.Dupes.Machine, d.Path, false, func(m dto.FileMeta, sum []byte) error {
					if m.ArchivePath != "" || m.Operation == dto.OpDel || m.Inode == 0 || m.Path == d.Path ||
						strings.Contains(m.Path, "/"+TrashDirName+"/") {
						return nil
					}
					rel, _ := filepath.Rel(d.Path, m.Path)
					files[pc] = append(files[pc], dirFile{m: m, sha: hex.EncodeToString(sum), rel: rel})
					if len(files[pc]) == 1 || m.MtimeNS < pc.mtime {
						pc.mtime = m.MtimeNS
					}
					return nil
				})
				if err != nil {
					return err
				}
				slices.SortFunc(files[pc], func(a, b dirFile) int { return strings.Compare(a.m.Path, b.m.Path) })
			}
			isRef := refTest(refs)
			order := keepOrder(rules, isRef)
			slices.SortStableFunc(dirs, func(a, b *planCopy) int { c, _ := order(a, b); return c })
			keepDir := dirs[0]
			_, rule := order(keepDir, dirs[1])
			plan.Groups = append(plan.Groups, dirGroupPlan(keepDir, files, dirs[1:], rule, o.Content, order, isRef, linkAction, kept, acted)...)
		}
		return nil
	})
	return plan, err
}

// dirGroupPlan makes the plan groups of one directory group: the files of
// each directory in others, but reference ones, against their counterparts
// in keepDir: the file at the same relative path with the same content, or
// with content any file of keepDir with the same content.
func dirGroupPlan(keepDir *planCopy, files map[*planCopy][]dirFile, others []*planCopy, keepRule string, content bool,
	order func(a, b *planCopy) (int, string), isRef func(*planCopy) bool, linkAction bool, kept, acted map[devIno]bool) []dto.DedupeGroup {
	byRel, bySHA := map[string]dirFile{}, map[string]dirFile{}
	keptNames := map[devIno][]dto.DedupeName{}
	for _, f := range files[keepDir] {
		byRel[f.rel] = f
		if _, ok := bySHA[f.sha]; !ok {
			bySHA[f.sha] = f
		}
		k := devIno{f.m.Device, f.m.Inode}
		keptNames[k] = append(keptNames[k], nameOf(f.m))
	}
	type gkey struct {
		kept devIno
		dev  uint64 // the victims' device, for the link actions
	}
	type at struct {
		g gkey
		i int
	}
	var keys []gkey
	out := map[gkey]*dto.DedupeGroup{}
	victims := map[devIno]at{}
	for _, dir := range others {
		if isRef(dir) {
			continue
		}
		_, why := order(keepDir, dir)
		for _, f := range files[dir] {
			var k dirFile
			var ok bool
			if content {
				k, ok = bySHA[f.sha]
			} else {
				k, ok = byRel[f.rel]
				ok = ok && k.sha == f.sha
			}
			if !ok {
				continue // the catalog's digests are stale: leave it alone
			}
			kk, vk := devIno{k.m.Device, k.m.Inode}, devIno{f.m.Device, f.m.Inode}
			if _, inKept := keptNames[vk]; inKept || vk == kk || kept[vk] || acted[kk] {
				continue
			}
			if v, ok := victims[vk]; ok {
				// Another name of a copy already acted on shares its fate.
				cp := &out[v.g].Act[v.i]
				cp.Names = append(cp.Names, nameOf(f.m))
				continue
			}
			gk := gkey{kept: kk}
			if linkAction {
				gk.dev = f.m.Device
			}
			g := out[gk]
			if g == nil {
				g = &dto.DedupeGroup{SHA256: k.sha, Size: k.m.Size,
					Keep: dto.DedupeCopy{Rule: keepRule + ", directory " + keepDir.first, Device: kk.dev, Inode: kk.ino, Names: keptNames[kk]}}
				out[gk] = g
				keys = append(keys, gk)
			}
			g.Act = append(g.Act, dto.DedupeCopy{Rule: why + ", directory " + keepDir.first + " kept", Device: vk.dev, Inode: vk.ino,
				Names: []dto.DedupeName{nameOf(f.m)}})
			victims[vk] = at{gk, len(g.Act) - 1}
		}
	}
	groups := make([]dto.DedupeGroup, 0, len(keys))
	for _, gk := range keys {
		groups = append(groups, *out[gk])
		kept[gk.kept] = true
	}
	for vk := range victims {
		acted[vk] = true
	}
	return groups
}

func nameOf(m dto.FileMeta) dto.DedupeName {
	return dto.DedupeName{Path: m.Path, Size: m.Size, MtimeNS: m.MtimeNS, CtimeNS: m.CtimeNS}
}
