package gateway

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/codehub-dev/codehub/internal/backend"
)

//go:embed templates/*.html
var templateFS embed.FS

var pages = template.Must(template.New("pages").Funcs(template.FuncMap{
	// rowOf and profileChoice hand a sub-template the page with one part of it: a row
	// of the workspaces table; the profile choice of one form (its select's id).
	"rowOf": func(p pageData, row wsView) any {
		return struct {
			Page pageData
			Row  wsView
		}{p, row}
	},
	"profileChoice": func(v any, id string) any {
		return struct {
			View any
			ID   string
		}{v, id}
	},
}).ParseFS(templateFS, "templates/*.html"))

// pagePolicy is the pages' Content-Security-Policy: no script at all, and the one style
// sheet of layout.html allowed by its hash (no inline style attributes, no other sheet).
var pagePolicy = func() string {
	layout, err := templateFS.ReadFile("templates/layout.html")
	if err != nil {
		panic(err)
	}
	_, rest, _ := bytes.Cut(layout, []byte("<style>"))
	css, _, found := bytes.Cut(rest, []byte("</style>"))
	if !found {
		panic("layout.html has no <style> element")
	}
	return "default-src 'none'; style-src " + styleHash(string(css)) + "; " +
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
}()

type pageData struct {
	Title   string
	Refresh int // seconds; 0 = none
	Error   string
	Notice  string
	Message string
	Next    string
	User    string
	Failed  bool
	SSO     string      // path that starts single sign-on, when configured
	Rows    [][2]string // label/value lines (the dashboard)
	Running bool
	// CSRF is the token every state-changing form of the page carries (csrf.go).
	CSRF string
	// Wide gives the page the full width (tables of the home and admin pages).
	Wide bool
	// View is the page's own data (the home page's homeView, the admin page's adminView).
	View any
	// Steps of a workspace's start (the progress page), as the backend reports them.
	Steps []stepView
	// Workspace is the named workspace the progress page is about ("" = the default one),
	// so that "Try again" starts that one.
	Workspace string
}

// stepView is one start step on the progress page: State is "done", "now" or "todo".
type stepView struct {
	Name, State, At string
}

// stepViews renders a start's steps: each done one with the time it ended and how long
// after the start; the first not done is the current one.
func stepViews(steps []backend.Step) []stepView {
	var out []stepView
	var origin time.Time
	if len(steps) > 0 {
		origin = steps[0].Started
	}
	current := false
	for _, s := range steps {
		v := stepView{Name: s.Name, State: "todo"}
		switch {
		case !s.Done.IsZero():
			v.State = "done"
			v.At = s.Done.UTC().Format("15:04:05 UTC")
			if !origin.IsZero() {
				v.At += fmt.Sprintf(", after %d s", int(s.Done.Sub(origin).Round(time.Second).Seconds()))
			}
		case !current:
			v.State, current = "now", true
			if !s.Started.IsZero() {
				v.At = "since " + s.Started.UTC().Format("15:04:05 UTC")
			}
		}
		out = append(out, v)
	}
	return out
}

// render writes a server-rendered page. The pages need no JavaScript, so the policy
// forbids all scripts and framing (pagePolicy).
func render(w http.ResponseWriter, status int, name string, data pageData) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		http.Error(w, "template error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", pagePolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// styleHash is the CSP source of a style element's text.
func styleHash(css string) string {
	sum := sha256.Sum256([]byte(css))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}
