package gateway

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/users"
)

// The admin page (/_codehub/admin), for admins only (withAdmin decides): every workspace
// (owner, name, profile, state, last activity, age, requested resources) with filters,
// Start, Stop, Delete and "Stop all idle"; the local users (add, reset password, make or
// remove admin, delete — their sessions, WebSockets and tokens end at once); the recent
// audit events. Admins never enter another user's workspace from here unless per-workspace
// origins are on: there a workspace has its own origin and cookie, and /_codehub/open
// hands the admin over to it (audited); on one host the proxy routes by the caller's own
// identity only, so an admin's session can never reach someone else's code-server.

func (g *Gateway) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /_codehub/admin", g.adminPage)
	mux.HandleFunc("POST /_codehub/admin/workspace", g.adminWorkspace)
	mux.HandleFunc("POST /_codehub/admin/stop-idle", g.adminStopIdle)
	mux.HandleFunc("POST /_codehub/admin/user", g.adminUser)
}

// AccountEditor is implemented by Accounts the admin page can change (users.Store).
type AccountEditor interface {
	List() ([]users.User, error)
	Set(name, password string, admin bool) error
	SetAdmin(name string, admin bool) error
	Delete(name string) error
}

type adminView struct {
	FilterUser, FilterState, FilterProfile string
	States, ProfileNames                   []string
	Workspaces                             []adminWorkspace
	Total                                  int
	LocalUsers                             bool
	Users                                  []adminUserView
	Events                                 []eventView
	CanDelete, Origins                     bool
	NewPassword, NewPasswordUser           string // shown once
	Self                                   string
}

type adminWorkspace struct {
	wsView
	OpenURL string // per-workspace origins only
}

type adminUserView struct {
	Name, Created string
	Admin, Self   bool
}

// adminCaller authenticates an admin; anyone else gets 403 (a non-admin learns nothing).
func (g *Gateway) adminCaller(w http.ResponseWriter, r *http.Request, form bool) (identity.Identity, bool) {
	var id identity.Identity
	var ok bool
	if form {
		id, ok = g.formIdentity(w, r)
	} else {
		var err error
		if id, err = g.identify(r); err != nil {
			g.refuse(w, r, err)
			return id, false
		}
		ok = true
	}
	if ok && !id.Admin {
		if form {
			g.record(id.User, "admin."+r.PostForm.Get("action"), backend.Default(r.PostForm.Get("user")), r.URL.Path, errForbidden)
		}
		render(w, http.StatusForbidden, "error.html", pageData{Title: "Admins only", Message: "This page is for codehub admins."})
		return id, false
	}
	return id, ok
}

func (g *Gateway) adminPage(w http.ResponseWriter, r *http.Request) {
	id, ok := g.adminCaller(w, r, false)
	if !ok {
		return
	}
	g.renderAdmin(w, r, id, http.StatusOK, adminView{}, adminNotices[r.URL.Query().Get("done")], "")
}

func (g *Gateway) renderAdmin(w http.ResponseWriter, r *http.Request, id identity.Identity, status int, view adminView, notice, errMsg string) {
	list, err := g.cfg.Backend.List(r.Context())
	if err != nil {
		g.unavailable(w, r, "The workspace service is unavailable; please try again shortly.")
		return
	}
	q, now := r.URL.Query(), g.cfg.Clock.Now()
	view.FilterUser, view.FilterState, view.FilterProfile = strings.TrimSpace(q.Get("user")), q.Get("state"), q.Get("profile")
	view.States = []string{string(backend.StateRunning), string(backend.StateStarting), string(backend.StateStopping),
		string(backend.StateStopped), string(backend.StateFailed), string(backend.StatePending)}
	for _, p := range g.cfg.Profiles.All() {
		view.ProfileNames = append(view.ProfileNames, p.Name)
	}
	view.Total = len(list)
	slices.SortFunc(list, func(a, b backend.Workspace) int {
		if c := strings.Compare(a.User, b.User); c != 0 {
			return c
		}
		return strings.Compare(a.Named, b.Named) // the default workspace first
	})
	for _, ws := range list {
		v := g.wsView(ws, now)
		if (view.FilterUser != "" && !strings.Contains(strings.ToLower(ws.User), strings.ToLower(view.FilterUser))) ||
			(view.FilterState != "" && v.State != view.FilterState) || (view.FilterProfile != "" && v.Profile != view.FilterProfile) {
			continue
		}
		row := adminWorkspace{wsView: v}
		if g.origins != nil && ws.User != id.User {
			row.OpenURL = "/_codehub/open?workspace=" + url.QueryEscape(ws.Name)
		}
		view.Workspaces = append(view.Workspaces, row)
	}
	if ed, ok := g.cfg.Accounts.(AccountEditor); ok {
		view.LocalUsers = true
		all, err := ed.List()
		if err != nil {
			errMsg = joinDetail(errMsg, "the users file: "+err.Error())
		}
		for _, u := range all {
			view.Users = append(view.Users, adminUserView{Name: u.Name, Admin: u.Admin, Self: u.Name == id.User,
				Created: u.Created.UTC().Format("2006-01-02")})
		}
	}
	view.Events = eventViews(g.cfg.Audit.Recent(50))
	view.CanDelete, view.Origins, view.Self = g.canDelete(), g.origins != nil, id.User
	render(w, status, "admin.html", pageData{Title: "Admin", User: id.User, CSRF: g.csrfToken(r, id), Wide: true,
		Notice: notice, Error: errMsg, View: view})
}

// back returns to the admin page, keeping its filters (sent as hidden fields).
func adminBack(r *http.Request, done string) string {
	q := url.Values{}
	for _, k := range []string{"user", "state", "profile"} {
		if v := r.PostForm.Get("filter_" + k); v != "" {
			q.Set(k, v)
		}
	}
	q.Set("done", done)
	return "/_codehub/admin?" + q.Encode()
}

// adminNotices are the fixed messages a redirect back to the admin page may name (?done=…).
var adminNotices = map[string]string{
	"admin-started": "The workspace is starting.",
	"admin-stopped": "The workspace is stopping; its files stay.",
	"admin-deleted": "The workspace and its files were deleted.",
	"user-added":    "The user was added.",
	"user-changed":  "Done; the user's earlier sessions and tokens ended.",
	"user-deleted":  "The user was deleted: their sessions, open tabs and tokens ended, their workspace was stopped.",
}

// adminWorkspace is a workspace row's buttons: action start, stop or delete (confirmed).
func (g *Gateway) adminWorkspace(w http.ResponseWriter, r *http.Request) {
	id, ok := g.adminCaller(w, r, true)
	if !ok {
		return
	}
	target, ctx := r.PostForm.Get("user"), r.Context()
	fail := func(status int, msg string) { g.renderAdmin(w, r, id, status, adminView{}, "", msg) }
	if target == "" {
		fail(http.StatusBadRequest, "No workspace named.")
		return
	}
	ref, err := formRef(r, target)
	if err != nil {
		fail(http.StatusBadRequest, err.Error())
		return
	}
	switch r.PostForm.Get("action") {
	case "start":
		if _, err := g.startWorkspace(ctx, id, ref, "admin page"); err != nil {
			fail(http.StatusConflict, "Could not start "+describe(ref)+": "+err.Error())
			return
		}
		http.Redirect(w, r, adminBack(r, "admin-started"), http.StatusSeeOther)
	case "stop":
		if err := g.stopWorkspace(ctx, id.User, ref, "admin page"); err != nil {
			fail(http.StatusInternalServerError, "Could not stop "+describe(ref)+": "+err.Error())
			return
		}
		http.Redirect(w, r, adminBack(r, "admin-stopped"), http.StatusSeeOther)
	case "delete":
		if r.PostForm.Get("confirm") != "yes" {
			again := target + " gets a new, empty workspace on their next visit."
			if ref.Name != "" {
				again = "their other workspaces are not touched."
			}
			g.confirm(w, r, id, confirmView{Action: "/_codehub/admin/workspace", Heading: "Delete " + describe(ref) + "?",
				Consequence: "The workspace " + ref.FullName() + " is stopped and deleted with every file in it (its home directory or home volume). This cannot be undone; " + again,
				Fields:      map[string]string{"action": "delete", "user": target, "name": ref.Name}, Button: "Delete workspace and files", Back: "/_codehub/admin"})
			return
		}
		if err := g.deleteWorkspace(ctx, id.User, ref, "admin page"); err != nil {
			fail(http.StatusConflict, "Could not delete "+describe(ref)+": "+err.Error())
			return
		}
		http.Redirect(w, r, adminBack(r, "admin-deleted"), http.StatusSeeOther)
	default:
		fail(http.StatusBadRequest, "Unknown action.")
	}
}

// adminStopIdle stops every running workspace without activity for the chosen minutes.
// A workspace whose activity is unknown is left alone: nothing says it is idle.
func (g *Gateway) adminStopIdle(w http.ResponseWriter, r *http.Request) {
	id, ok := g.adminCaller(w, r, true)
	if !ok {
		return
	}
	minutes, err := strconv.Atoi(r.PostForm.Get("minutes"))
	if err != nil || minutes < 1 {
		g.renderAdmin(w, r, id, http.StatusBadRequest, adminView{}, "", "Idle minutes must be a whole number, at least 1.")
		return
	}
	list, err := g.cfg.Backend.List(r.Context())
	if err != nil {
		g.unavailable(w, r, "The workspace service is unavailable; please try again shortly.")
		return
	}
	cutoff := g.cfg.Clock.Now().Add(-time.Duration(minutes) * time.Minute)
	var stopped, failed []string
	for _, ws := range list {
		if ws.State != backend.StateRunning || ws.LastActivity.IsZero() || ws.LastActivity.After(cutoff) {
			continue
		}
		if err := g.stopWorkspace(r.Context(), id.User, ws.Ref(), "admin page: stop all idle for "+strconv.Itoa(minutes)+" min"); err != nil {
			failed = append(failed, ws.Ref().String())
			continue
		}
		stopped = append(stopped, ws.Ref().String())
	}
	msg := "No running workspace was idle for " + strconv.Itoa(minutes) + " minutes."
	if len(stopped) > 0 {
		msg = "Stopped " + strconv.Itoa(len(stopped)) + " idle workspaces: " + strings.Join(stopped, ", ") + "."
	}
	errMsg := ""
	if len(failed) > 0 {
		errMsg = "Could not stop: " + strings.Join(failed, ", ") + "."
	}
	g.renderAdmin(w, r, id, http.StatusOK, adminView{}, msg, errMsg)
}

// adminUser changes a local user: action add (user, password or "" for a generated one,
// admin), password (reset: typed or generated), grant, revoke, delete (confirmed; with
// delete_workspace=yes their workspace and files go too).
func (g *Gateway) adminUser(w http.ResponseWriter, r *http.Request) {
	id, ok := g.adminCaller(w, r, true)
	if !ok {
		return
	}
	ed, ok := g.cfg.Accounts.(AccountEditor)
	if !ok {
		g.renderAdmin(w, r, id, http.StatusNotFound, adminView{}, "", "There are no local users to manage.")
		return
	}
	f, ctx := r.PostForm, r.Context()
	action, name := f.Get("action"), strings.TrimSpace(f.Get("user"))
	fail := func(status int, msg string, err error) {
		g.record(id.User, "user."+action, backend.Default(name), "admin page", err)
		g.renderAdmin(w, r, id, status, adminView{}, "", msg)
	}
	_, _, exists := g.cfg.Accounts.Account(name)
	switch {
	case action == "add" && exists:
		fail(http.StatusConflict, name+" already exists; reset their password instead.", errForbidden)
		return
	case action != "add" && !exists:
		fail(http.StatusNotFound, "No local user "+name+".", users.ErrNotFound)
		return
	case name == id.User && slices.Contains([]string{"revoke", "delete"}, action):
		fail(http.StatusForbidden, "You cannot remove your own admin rights or delete yourself here; another admin (or codehub users) can.", errForbidden)
		return
	}
	switch action {
	case "add", "password":
		pw, generated := f.Get("password"), false
		if pw == "" {
			pw, generated = users.RandomPassword(), true
		}
		admin := f.Get("admin") == "yes"
		if action == "password" {
			admin, _, _ = g.cfg.Accounts.Account(name)
		}
		if err := ed.Set(name, pw, admin); err != nil {
			fail(http.StatusBadRequest, "Could not save "+name+": "+err.Error(), err)
			return
		}
		if action == "password" {
			g.accountChanged(name, g.cfg.Clock.Now())
		}
		g.record(id.User, "user."+action, backend.Default(name), "admin page"+map[bool]string{true: " (admin)", false: ""}[admin && action == "add"], nil)
		view := adminView{}
		if generated {
			view.NewPassword, view.NewPasswordUser = pw, name
		}
		g.renderAdmin(w, r, id, http.StatusOK, view, map[string]string{"add": adminNotices["user-added"], "password": adminNotices["user-changed"]}[action], "")
	case "grant", "revoke":
		if err := ed.SetAdmin(name, action == "grant"); err != nil {
			fail(http.StatusInternalServerError, "Could not change "+name+": "+err.Error(), err)
			return
		}
		g.accountChanged(name, g.cfg.Clock.Now())
		g.record(id.User, "user."+action+"-admin", backend.Default(name), "admin page", nil)
		http.Redirect(w, r, adminBack(r, "user-changed"), http.StatusSeeOther)
	case "delete":
		if f.Get("confirm") != "yes" {
			v := confirmView{Action: "/_codehub/admin/user", Heading: "Delete the user " + name + "?",
				Consequence: name + " can no longer sign in: their sessions, open tabs and API tokens end now, and their running workspace is stopped. Their workspace's files are kept unless you tick the box below.",
				Fields:      map[string]string{"action": "delete", "user": name}, Button: "Delete user", Back: "/_codehub/admin"}
			if g.canDelete() {
				v.Checkbox, v.CheckboxName = "Also delete their workspace and all its files", "delete_workspace"
			}
			g.confirm(w, r, id, v)
			return
		}
		if err := ed.Delete(name); err != nil {
			fail(http.StatusInternalServerError, "Could not delete "+name+": "+err.Error(), err)
			return
		}
		g.record(id.User, "user.delete", backend.Default(name), "admin page", nil)
		// At once, not at the account watcher's next look (which then finds nothing left).
		g.accountGone(ctx, name)
		if f.Get("delete_workspace") == "yes" {
			if err := g.deleteUserWorkspaces(ctx, id.User, name, "admin page: with the user"); err != nil {
				g.renderAdmin(w, r, id, http.StatusConflict, adminView{}, adminNotices["user-deleted"], "Could not delete their workspace: "+err.Error())
				return
			}
		}
		http.Redirect(w, r, adminBack(r, "user-deleted"), http.StatusSeeOther)
	default:
		fail(http.StatusBadRequest, "Unknown action.", errForbidden)
	}
}
