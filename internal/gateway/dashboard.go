package gateway

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/identity"
)

// The home page (/_codehub/): the signed-in user's workspace (state, profile, last
// activity, when it stops), Open, Start, Stop, Delete (after a page that says what happens
// to the files), create from a profile, API tokens (mint — shown once —, list, revoke) and
// sign out. Server-rendered plain forms: it works without JavaScript, under the pages'
// script-free CSP, and every form carries the session's CSRF token (csrf.go).

func (g *Gateway) dashboardRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /_codehub/{$}", g.dashboard)
	mux.HandleFunc("POST /_codehub/workspace", g.dashboardWorkspace)
	mux.HandleFunc("POST /_codehub/tokens", g.dashboardTokens)
}

// homeView is the home page's own data.
type homeView struct {
	Workspace *wsView // nil: the user has none yet
	Named     []wsView
	// CreateNamed offers the form for one more named workspace (below the limit); Max is
	// the limit, the default workspace included.
	CreateNamed   bool
	Max           int
	Profiles      []profileView
	ChooseProfile bool   // more than one profile, and the backend applies them
	ProfileNote   string // why there is no choice
	CanDelete     bool
	Next          string // where creating the workspace goes on ("/" = open it)
	TokensEnabled bool
	Tokens        []tokenView
	NewToken      string // the secret of the token just minted, shown this once
	NewTokenName  string
	Admin         bool
	FilesNote     string
}

type tokenView struct {
	ID, Name, Created, Expires, LastUsed string
}

// notices are the fixed messages a redirect back to the page may name (?done=…).
var notices = map[string]string{
	"started": "Your workspace is starting.", "stopped": "Your workspace is stopping. Your files stay.",
	"deleted": "Your workspace and its files were deleted.", "revoked": "The token was revoked.",
}

const filesNote = "Stopping keeps your files; opening VS Code starts the workspace again. Deleting removes the workspace and every file in it (its home directory or volume) for good."

func (g *Gateway) dashboard(w http.ResponseWriter, r *http.Request) {
	id, err := g.identify(r)
	if err != nil {
		g.refuse(w, r, err)
		return
	}
	g.renderHome(w, r, id, http.StatusOK, homeView{Next: safeNext(r.URL.Query().Get("next"))}, notices[r.URL.Query().Get("done")], "")
}

// renderHome renders the home page for id over the parts of view already set (Next, the
// new token).
func (g *Gateway) renderHome(w http.ResponseWriter, r *http.Request, id identity.Identity, status int, view homeView, notice, errMsg string) {
	ws, err := g.cfg.Backend.Get(r.Context(), backend.Default(id.User))
	if err != nil && !errors.Is(err, backend.ErrNotFound) {
		g.unavailable(w, r, "The workspace service is unavailable; please try again shortly.")
		return
	}
	mine, lerr := g.userWorkspaces(r.Context(), id.User)
	if lerr != nil {
		g.unavailable(w, r, "The workspace service is unavailable; please try again shortly.")
		return
	}
	now := g.cfg.Clock.Now()
	data := pageData{Title: "Your workspace", User: id.User, CSRF: g.csrfToken(r, id), Wide: true, Notice: notice, Error: errMsg}
	if err == nil {
		v := g.wsView(ws, now)
		view.Workspace = &v
		// A workspace on its way up or down is worth watching, unless a secret is on screen.
		if view.NewToken == "" && (ws.State == backend.StateStarting || ws.State == backend.StateStopping) {
			data.Refresh = 5
		}
	}
	for _, n := range mine {
		if n.Named == "" {
			continue
		}
		view.Named = append(view.Named, g.wsView(n, now))
		data.Title = "Your workspaces"
		if n.State == backend.StateStarting || n.State == backend.StateStopping {
			if view.NewToken == "" {
				data.Refresh = 5
			}
		}
	}
	view.Max = g.maxWorkspaces()
	view.CreateNamed = 1+len(view.Named) < view.Max
	allowed := g.cfg.Profiles.For(id.Groups, id.Admin)
	selected := ""
	if err == nil {
		selected = ws.Profile
	}
	view.Profiles = profileViews(allowed, selected)
	switch {
	case len(allowed) > 1 && g.canSetProfiles():
		view.ChooseProfile = true
	case len(allowed) > 1:
		view.ProfileNote = "Choosing a profile is not supported by this backend: workspaces get the default."
	}
	view.CanDelete = g.canDelete()
	view.Admin = id.Admin
	view.FilesNote = filesNote
	if view.Next == "" {
		view.Next = "/"
	}
	if g.cfg.Tokens != nil {
		view.TokensEnabled = true
		for _, t := range g.cfg.Tokens.List(id.User) {
			tv := tokenView{ID: t.ID, Name: t.Name, Created: t.Created.UTC().Format("2006-01-02 15:04 UTC"), Expires: "never", LastUsed: "never"}
			if !t.Expires.IsZero() {
				tv.Expires = t.Expires.UTC().Format("2006-01-02 15:04 UTC")
			}
			if !t.LastUsed.IsZero() {
				tv.LastUsed = ago(now.Sub(t.LastUsed)) + " ago"
			}
			view.Tokens = append(view.Tokens, tv)
		}
	}
	data.View = view
	render(w, status, "dashboard.html", data)
}

// dashboardWorkspace is the home page's workspace buttons: action start, stop, create
// (with a profile) or delete (confirm=yes after the confirmation page).
func (g *Gateway) dashboardWorkspace(w http.ResponseWriter, r *http.Request) {
	id, ok := g.formIdentity(w, r)
	if !ok {
		return
	}
	ctx, f := r.Context(), r.PostForm
	fail := func(msg string) { g.renderHome(w, r, id, http.StatusConflict, homeView{}, "", msg) }
	ref, err := formRef(r, id.User) // the caller's own workspaces only
	if err != nil {
		g.renderHome(w, r, id, http.StatusBadRequest, homeView{}, "", err.Error())
		return
	}
	switch f.Get("action") {
	case "start":
		if _, err := g.startWorkspace(ctx, id, ref, "home page"); err != nil {
			fail("Could not start the workspace: " + err.Error())
			return
		}
		http.Redirect(w, r, "/_codehub/?done=started", http.StatusSeeOther)
	case "stop":
		if err := g.stopWorkspace(ctx, id.User, ref, "home page"); err != nil {
			fail("Could not stop the workspace: " + err.Error())
			return
		}
		http.Redirect(w, r, "/_codehub/?done=stopped", http.StatusSeeOther)
	case "create":
		g.createOwn(w, r, id, ref)
	case "delete":
		if f.Get("confirm") != "yes" {
			heading, which := "Delete your workspace?", "Your workspace "+ref.FullName()
			if ref.Name != "" {
				heading, which = "Delete your workspace "+ref.Name+"?", "Your workspace "+ref.Name+" ("+ref.FullName()+")"
			}
			g.confirm(w, r, id, confirmView{Action: "/_codehub/workspace", Heading: heading,
				Consequence: which + " is stopped and deleted with every file in it: its home directory (local backend) or home volume (Kubernetes). Your other workspaces are not touched. This cannot be undone. To keep your files, stop the workspace instead.",
				Fields:      map[string]string{"action": "delete", "name": ref.Name}, Button: "Delete workspace and files", Back: "/_codehub/"})
			return
		}
		if err := g.deleteWorkspace(ctx, id.User, ref, "home page"); err != nil {
			fail("Could not delete the workspace: " + err.Error())
			return
		}
		http.Redirect(w, r, "/_codehub/?done=deleted", http.StatusSeeOther)
	default:
		fail("Unknown action.")
	}
}

// createOwn creates the caller's workspace ref with the profile chosen (one they may use)
// and goes on to next: "/" opens the default one, which shows its start's progress; a
// named one opens at its own URL.
func (g *Gateway) createOwn(w http.ResponseWriter, r *http.Request, id identity.Identity, ref backend.Ref) {
	name, next := r.PostForm.Get("profile"), safeNext(r.PostForm.Get("next"))
	if ref.Name != "" {
		next = g.namedURL(ref)
		if _, err := g.cfg.Backend.Get(r.Context(), ref); err == nil {
			g.renderHome(w, r, id, http.StatusConflict, homeView{}, "", "You already have a workspace named "+ref.Name+".")
			return
		}
	}
	var chosen bool
	for _, p := range g.cfg.Profiles.For(id.Groups, id.Admin) {
		if p.Name == name {
			chosen = true
		}
	}
	if !chosen {
		g.record(id.User, "workspace.profile", ref, name, errForbidden)
		g.renderHome(w, r, id, http.StatusForbidden, homeView{Next: next}, "", "You may not use the profile "+name+".")
		return
	}
	if g.canSetProfiles() {
		if err := g.setProfile(r.Context(), id.User, ref, name); err != nil {
			g.renderHome(w, r, id, http.StatusConflict, homeView{Next: next}, "", "Could not set the profile: "+err.Error())
			return
		}
	} else if p, _ := g.defaultProfile(); p.Name != name {
		g.renderHome(w, r, id, http.StatusConflict, homeView{Next: next}, "", "Choosing a profile is "+errNotSupported.Error()+".")
		return
	}
	if _, err := g.startWorkspace(r.Context(), id, ref, "home page: create with "+name); err != nil {
		g.renderHome(w, r, id, http.StatusConflict, homeView{Next: next}, "", "Could not create the workspace: "+err.Error())
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// dashboardTokens mints (action create: name, ttl) or revokes (action revoke: id) one of
// the caller's API tokens. A new token's secret is in this one response only.
func (g *Gateway) dashboardTokens(w http.ResponseWriter, r *http.Request) {
	id, ok := g.formIdentity(w, r)
	if !ok {
		return
	}
	if g.cfg.Tokens == nil {
		render(w, http.StatusNotFound, "error.html", pageData{Title: "Tokens", Message: "API tokens are disabled."})
		return
	}
	f := r.PostForm
	switch f.Get("action") {
	case "create":
		ttl, err := time.ParseDuration(f.Get("ttl"))
		if f.Get("ttl") == "" || f.Get("ttl") == "0" {
			ttl, err = 0, nil
		}
		if err != nil || ttl < 0 {
			g.renderHome(w, r, id, http.StatusBadRequest, homeView{}, "", "The expiry must be a duration like 720h.")
			return
		}
		secret, t, err := g.cfg.Tokens.Create(id.User, id.Local, f.Get("name"), ttl, g.cfg.Clock.Now())
		if err != nil {
			g.renderHome(w, r, id, http.StatusBadRequest, homeView{}, "", err.Error())
			return
		}
		g.record(id.User, "token.create", backend.Default(id.User), "home page: "+t.ID+" "+t.Name, nil)
		g.renderHome(w, r, id, http.StatusOK, homeView{NewToken: secret, NewTokenName: t.Name}, "", "")
	case "revoke":
		t, err := g.cfg.Tokens.Get(f.Get("id"))
		if err != nil || t.User != id.User {
			g.renderHome(w, r, id, http.StatusNotFound, homeView{}, "", "No such token.")
			return
		}
		if err := g.cfg.Tokens.Revoke(t.ID); err != nil {
			g.renderHome(w, r, id, http.StatusInternalServerError, homeView{}, "", "Could not revoke the token: "+err.Error())
			return
		}
		g.record(id.User, "token.revoke", backend.Default(id.User), "home page: "+t.ID, nil)
		http.Redirect(w, r, "/_codehub/?done=revoked", http.StatusSeeOther)
	default:
		g.renderHome(w, r, id, http.StatusBadRequest, homeView{}, "", "Unknown action.")
	}
}

// firstVisitChoice sends a user without a workspace to the home page's profile choice when
// there is one to make; false when the one-click start goes ahead (one profile, or a
// backend that applies none).
func (g *Gateway) firstVisitChoice(w http.ResponseWriter, r *http.Request, id identity.Identity, next string) bool {
	if !g.canSetProfiles() || len(g.cfg.Profiles.For(id.Groups, id.Admin)) < 2 {
		return false
	}
	main := ""
	if label, _ := g.hostLabel(r.Host); label != "" {
		main, next = g.mainOrigin(r), "/" // a workspace host: the choice is on the main host
	}
	http.Redirect(w, r, main+"/_codehub/?next="+url.QueryEscape(next), http.StatusSeeOther)
	return true
}

// confirmView is the confirmation page of an action that cannot be undone.
type confirmView struct {
	Action, Heading, Consequence, Button, Back string
	Fields                                     map[string]string // hidden fields posted again
	Checkbox                                   string            // an optional extra choice ("" = none)
	CheckboxName                               string
}

func (g *Gateway) confirm(w http.ResponseWriter, r *http.Request, id identity.Identity, v confirmView) {
	render(w, http.StatusOK, "confirm.html", pageData{Title: v.Heading, User: id.User, CSRF: g.csrfToken(r, id), View: v})
}
