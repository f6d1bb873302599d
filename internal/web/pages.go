package web

import (
	"net/http"
)

// pages serves the HTML pages and their static assets.
type pages struct{}

func newPages() (*pages, error) { return &pages{}, nil }

func (p *pages) routes(mux *http.ServeMux, s *Server) {}

func (p *pages) login(w http.ResponseWriter, r *http.Request, status int, msg string) {
	http.Error(w, "login required", status)
}
