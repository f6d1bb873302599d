package web

import (
	"errors"
	"net/http"
	"path/filepath"

	"github.com/indexer/indexer/internal/bytesize"
	"github.com/indexer/indexer/internal/dto"
	"github.com/indexer/indexer/internal/service"
)

// maxPlanBody bounds the body of POST /api/dedupe/apply: a plan of about
// 100,000 files.
const maxPlanBody = 64 << 20

// planRequest is the body of POST /api/dedupe/plan: the rules of `indexer
// dedupe plan` and the filters of the duplicates page. The plan is for the
// server's own machine.
type planRequest struct {
	Action    string   `json:"action"`
	Keep      []string `json:"keep"`
	Reference []string `json:"reference"`
	Under     string   `json:"under"`
	MinSize   string   `json:"min_size"`
	MaxSize   string   `json:"max_size"`
	Name      string   `json:"name"`
}

// options turns the request into the service's options.
func (q planRequest) options(machine string) (service.DedupePlanOptions, error) {
	o := service.DedupePlanOptions{Action: q.Action, Keep: q.Keep, Reference: q.Reference,
		Dupes: service.DupesOptions{Machine: machine, Name: q.Name, MinSize: 1}}
	if q.Under != "" {
		if !filepath.IsAbs(q.Under) {
			return o, badf("under=%q is not an absolute path", q.Under)
		}
		o.Dupes.Under = []string{filepath.Clean(q.Under)}
	}
	if q.MinSize != "" {
		n, err := bytesize.Parse(q.MinSize)
		if err != nil {
			return o, badf("min_size=%q is not a size such as 1024, 10K or 1.5MB", q.MinSize)
		}
		o.Dupes.MinSize = n
	}
	if q.MaxSize != "" {
		n, err := bytesize.Parse(q.MaxSize)
		if err != nil {
			return o, badf("max_size=%q is not a size such as 1024, 10K or 1.5MB", q.MaxSize)
		}
		o.Dupes.MaxSize = &n
	}
	return o, nil
}

// dedupePlan builds a plan for the server's machine from the catalog alone.
func (s *Server) dedupePlan(w http.ResponseWriter, r *http.Request) {
	var req planRequest
	if err := decodeBody(w, r, &req, 1<<20); err != nil {
		s.fail(w, r, err)
		return
	}
	o, err := req.options(s.cfg.Machine)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	plan, err := s.cfg.Catalog.Plan(r.Context(), o)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if plan.Groups == nil {
		plan.Groups = []dto.DedupeGroup{}
	}
	writeJSON(w, http.StatusOK, plan)
}

// applyRequest is the body of POST /api/dedupe/apply: a plan, as
// /api/dedupe/plan gave it or as the page edited it.
type applyRequest struct {
	Plan *dto.DedupePlan `json:"plan"`
	// Kept, when set, chooses again the copies kept in each group: their
	// indexes among the group's keep, reference and act copies. (A page
	// cannot edit the plan itself: JavaScript numbers cannot hold its
	// inodes and nanosecond times exactly.)
	Kept   [][]int `json:"kept"`
	DryRun bool    `json:"dry_run"`
	// Yes confirms a delete plan.
	Yes bool `json:"yes"`
}

// applyAnswer is what apply did, with each action as `dedupe apply`
// prints it.
type applyAnswer struct {
	dto.DedupeReport
	Events []service.DedupeEvent `json:"events"`
}

// dedupeApply applies a plan on the server's machine. The plan is
// untrusted: it is refused whole (400) unless each group keeps a copy and
// every file is one the catalog records as the plan has it; then every file
// is checked on disk again before it is acted on.
func (s *Server) dedupeApply(w http.ResponseWriter, r *http.Request) {
	var req applyRequest
	if err := decodeBody(w, r, &req, maxPlanBody); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Plan == nil {
		s.fail(w, r, badf("the request has no plan"))
		return
	}
	ans := applyAnswer{Events: []service.DedupeEvent{}}
	rep, err := s.cfg.Catalog.Apply(r.Context(), req.Plan, service.ApplyOptions{Machine: s.cfg.Machine, DryRun: req.DryRun,
		Yes: req.Yes, Untrusted: true, Kept: req.Kept, OnEvent: func(e service.DedupeEvent) { ans.Events = append(ans.Events, e) }})
	if errors.Is(err, service.ErrDeleteNeedsYes) {
		err = badf("the delete action needs yes: true, the confirmation")
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ans.DedupeReport = rep
	writeJSON(w, http.StatusOK, ans)
}
