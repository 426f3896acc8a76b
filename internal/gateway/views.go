package gateway

import (
	"fmt"
	"strings"
	"time"

	"github.com/codehub-dev/codehub/internal/audit"
	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/profile"
)

// What the home and admin pages show of a workspace, a profile and an audit event.

// wsView is one workspace row. One workspace per user today; Name is its own column so a
// user's several named workspaces can become several rows.
type wsView struct {
	Name, User, State, Message string
	// Named is the name among its owner's workspaces ("" = the default one), URL where it
	// opens for its owner, and IDSuffix makes its buttons' ids unique on the page.
	Named, URL, IDSuffix  string
	Profile, Resources    string
	LastActivity, StopsIn string
	IdleTimeout, Age      string
	// LastActivityAt and IdleFor order and filter rows (zero: unknown).
	LastActivityAt time.Time
	Running        bool // Stop applies
	Startable      bool // Start applies
}

func (g *Gateway) wsView(ws backend.Workspace, now time.Time) wsView {
	v := wsView{Name: ws.Name, User: ws.User, Named: ws.Named, URL: g.namedURL(ws.Ref()), State: string(ws.State), Message: ws.Message,
		LastActivity: "—", StopsIn: "—", IdleTimeout: "never", Age: "—", LastActivityAt: ws.LastActivity,
		Running:   ws.State == backend.StateRunning || ws.State == backend.StateStarting,
		Startable: ws.State == backend.StateStopped || ws.State == backend.StateFailed || ws.State == backend.StatePending}
	if ws.Named != "" {
		v.IDSuffix = "-" + ws.Named
	}
	p, ok := g.cfg.Profiles.Get(ws.Profile)
	if !ok {
		p, _ = g.defaultProfile()
	}
	v.Profile, v.Resources = p.Name, resources(p)
	if ws.Profile != "" && ws.Profile != p.Name {
		v.Profile = ws.Profile + " (no longer defined)"
	}
	if !ws.LastActivity.IsZero() {
		v.LastActivity = ago(now.Sub(ws.LastActivity)) + " ago"
	}
	if ws.IdleTimeout > 0 {
		v.IdleTimeout = ws.IdleTimeout.String()
	}
	if !ws.StopsAt.IsZero() {
		v.StopsIn = ago(ws.StopsAt.Sub(now))
		if ws.StopReason == backend.StopMaxRunTime {
			v.StopsIn += " (maximum run time)"
		}
	}
	if !ws.Created.IsZero() {
		v.Age = ago(now.Sub(ws.Created))
	}
	return v
}

// defaultProfile is the catalog's default.
func (g *Gateway) defaultProfile() (profile.Profile, bool) {
	for _, p := range g.cfg.Profiles.All() {
		if p.Default {
			return p, true
		}
	}
	return profile.Profile{}, false
}

// resources says what a profile requests: "cpu 500m–2 · memory 1Gi–4Gi · 1 GPU", or the
// backend's defaults when it names none.
func resources(p profile.Profile) string {
	var parts []string
	amount := func(what string, a profile.Amount) {
		switch {
		case a.Request != "" && a.Limit != "":
			parts = append(parts, what+" "+a.Request+"–"+a.Limit)
		case a.Request != "":
			parts = append(parts, what+" "+a.Request)
		case a.Limit != "":
			parts = append(parts, what+" ≤"+a.Limit)
		}
	}
	amount("cpu", p.CPU)
	amount("memory", p.Memory)
	if p.GPUs > 0 {
		parts = append(parts, fmt.Sprintf("%d GPU", p.GPUs))
	}
	if len(parts) == 0 {
		return "backend defaults"
	}
	return strings.Join(parts, " · ")
}

// profileView is one choice of the profile select.
type profileView struct {
	Name, Description, Resources string
	Default, Selected            bool
}

func profileViews(list []profile.Profile, selected string) []profileView {
	out := make([]profileView, 0, len(list))
	for _, p := range list {
		out = append(out, profileView{Name: p.Name, Description: p.Description, Resources: resources(p), Default: p.Default,
			Selected: p.Name == selected || (selected == "" && p.Default)})
	}
	return out
}

// eventView is one line of the admin page's recent events.
type eventView struct {
	Time, Actor, Action, Target, Outcome, Detail string
}

func eventViews(events []audit.Event) []eventView {
	out := make([]eventView, 0, len(events))
	for _, e := range events {
		target := e.User
		if e.Workspace != "" {
			target += " (" + e.Workspace + ")"
		}
		out = append(out, eventView{Time: e.Time.UTC().Format("2006-01-02 15:04:05 UTC"), Actor: e.Actor, Action: e.Action,
			Target: target, Outcome: e.Outcome, Detail: e.Detail})
	}
	return out
}
