package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pages serves the HTML pages and their static assets. Pages are shells
// that the page's script fills from the API, so they show exactly the API's
// (and the CLI's) data.
type pages struct {
	tmpl *template.Template
	// assets maps a static file's name to its hashed URL, and hashed names
	// back to the file's content.
	urls  map[string]string
	files map[string][]byte
}

// pageList names each page, its template and its title, in menu order.
var pageList = []struct{ path, name, title string }{
	{"/", "overview", "Overview"},
	{"/dupes", "dupes", "Duplicates"},
	{"/search", "search", "Search"},
	{"/tree", "tree", "Tree"},
	{"/scans", "scans", "Scans"},
	{"/file", "file", "File"},
}

func newPages() (*pages, error) {
	p := &pages{urls: map[string]string{}, files: map[string][]byte{}}
	err := fs.WalkDir(staticFS, "static", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		base := path.Base(name)
		ext := path.Ext(base)
		hashed := strings.TrimSuffix(base, ext) + "." + hex.EncodeToString(sum[:6]) + ext
		p.urls[base] = "/static/" + hashed
		p.files[hashed] = b
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read embedded assets: %w", err)
	}
	p.tmpl, err = template.New("").Funcs(template.FuncMap{
		"asset": func(name string) (string, error) {
			u, ok := p.urls[name]
			if !ok {
				return "", fmt.Errorf("no static asset %s", name)
			}
			return u, nil
		},
	}).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("parse templates: %w", err)
	}
	return p, nil
}

// pageData is what every page template gets.
type pageData struct {
	Page, Title string
	Menu        []menuItem
	Message     string
}

type menuItem struct {
	Path, Title string
	Current     bool
}

func (p *pages) routes(mux *http.ServeMux, s *Server) {
	for _, pg := range pageList {
		route := "GET " + pg.path
		if pg.path == "/" {
			route = "GET /{$}"
		}
		mux.HandleFunc(route, func(w http.ResponseWriter, r *http.Request) {
			p.render(w, http.StatusOK, pg.name, pg.title, "")
		})
	}
	mux.HandleFunc("GET /static/{name}", p.static)
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) { p.login(w, r, http.StatusOK, "") })
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Token == "" {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		if !s.checkToken(r.PostFormValue("token")) {
			p.login(w, r, http.StatusUnauthorized, "That token is not the server's.")
			return
		}
		http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: s.cfg.Token, Path: "/", HttpOnly: true,
			SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		p.render(w, http.StatusNotFound, "notfound", "Not found", "There is no page "+r.URL.Path+".")
	})
}

// render writes page name; a template error is the server's fault.
func (p *pages) render(w http.ResponseWriter, status int, name, title, msg string) {
	d := pageData{Page: name, Title: title, Message: msg}
	for _, pg := range pageList {
		if pg.name != "file" {
			d.Menu = append(d.Menu, menuItem{pg.path, pg.title, pg.name == name})
		}
	}
	var b bytes.Buffer
	if err := p.tmpl.ExecuteTemplate(&b, "layout.html", d); err != nil {
		http.Error(w, "render page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// login shows the login form.
func (p *pages) login(w http.ResponseWriter, r *http.Request, status int, msg string) {
	p.render(w, status, "login", "Log in", msg)
}

// static serves an asset by its hashed name; it never changes, so it is
// cached for good.
func (p *pages) static(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	b, ok := p.files[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", mime.TypeByExtension(path.Ext(name)))
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("X-Content-Type-Options", "nosniff")
	w.Write(b)
}
