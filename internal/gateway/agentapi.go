package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/codehub-dev/codehub/internal/agent"
	"github.com/codehub-dev/codehub/internal/backend"
)

// The agent API is what runs inside a workspace talks to: the codehub VS Code extension
// (status bar, "Keep running", "Stop workspace") and codehub-init's busy reporter. It is
// authenticated by the workspace's agent token (internal/agent: an HMAC of the workspace's
// credential naming its user), checked against the credential of that user's running
// workspace. A token acts on that one workspace only: it cannot read or touch another
// user's, nor sign anyone in. On Kubernetes it is served on the gateway's own port (pods
// reach the gateway's Service); the local backend's workspaces reach it on a unix socket
// (AgentHandler, served by internal/serve).

func (g *Gateway) idleRoutes(mux *http.ServeMux) {
	mux.Handle("/_codehub/agent/", g.AgentHandler())
}

// AgentHandler serves /_codehub/agent/v1/{status,activity,stop}.
func (g *Gateway) AgentHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_codehub/agent/v1/status", g.agentStatus)
	mux.HandleFunc("POST /_codehub/agent/v1/activity", g.agentActivity)
	mux.HandleFunc("POST /_codehub/agent/v1/stop", g.agentStop)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, apiError{"no such agent endpoint"})
	})
	return mux
}

// agentStatusJSON is what the extension shows: whose workspace, and when it stops.
type agentStatusJSON struct {
	workspaceJSON
	Now       time.Time `json:"now"` // the gateway's clock: remaining = stopsAt - now
	PublicURL string    `json:"publicURL,omitempty"`
}

// agentCaller authenticates an agent request and returns its workspace (running).
func (g *Gateway) agentCaller(w http.ResponseWriter, r *http.Request) (backend.Workspace, bool) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	subject, claimed := agent.User(token)
	user, name := agent.SplitSubject(subject)
	if !ok || !claimed {
		writeJSON(w, http.StatusUnauthorized, apiError{"send Authorization: Bearer $" + agent.EnvToken})
		return backend.Workspace{}, false
	}
	ws, err := g.cfg.Backend.Get(r.Context(), backend.Ref{User: user, Name: name})
	if err != nil && !errors.Is(err, backend.ErrNotFound) {
		writeJSON(w, http.StatusServiceUnavailable, apiError{"backend unavailable"})
		return ws, false
	}
	// Only a running workspace has a credential to check against; a stopped one's agent
	// has nothing left to say.
	if err != nil || !agent.Verify(token, subject, ws.Credential) {
		writeJSON(w, http.StatusUnauthorized, apiError{"not a running workspace's agent token"})
		return ws, false
	}
	return ws, true
}

func (g *Gateway) agentStatus(w http.ResponseWriter, r *http.Request) {
	ws, ok := g.agentCaller(w, r)
	if !ok {
		return
	}
	g.writeAgentStatus(w, r, ws)
}

func (g *Gateway) writeAgentStatus(w http.ResponseWriter, r *http.Request, ws backend.Workspace) {
	out := agentStatusJSON{workspaceJSON: g.workspaceJSON(ws), Now: g.cfg.Clock.Now(), PublicURL: g.publicURL(r)}
	writeJSON(w, http.StatusOK, out)
}

// publicURL is the gateway's main origin as browsers reach it.
func (g *Gateway) publicURL(r *http.Request) string {
	if g.cfg.PublicURL != "" {
		return strings.TrimSuffix(g.cfg.PublicURL, "/")
	}
	return ""
}

// agentActivity records activity: {"kind": "keep-running"} (the person pressed the
// extension's button) or {"kind": "busy"} (work running in the workspace).
func (g *Gateway) agentActivity(w http.ResponseWriter, r *http.Request) {
	ws, ok := g.agentCaller(w, r)
	if !ok {
		return
	}
	var req struct {
		Kind  string  `json:"kind"`
		Cores float64 `json:"cores,omitempty"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxFormBytes)).Decode(&req); err != nil || (req.Kind != "keep-running" && req.Kind != "busy") {
		writeJSON(w, http.StatusBadRequest, apiError{`body must be {"kind": "keep-running"} or {"kind": "busy"}`})
		return
	}
	if err := g.recordNow(r.Context(), ws.Ref()); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, apiError{"could not record activity: " + err.Error()})
		return
	}
	if req.Kind == "keep-running" {
		g.cfg.Logger.Info("keep running", "workspace", ws.Ref().String())
	} else {
		g.cfg.Logger.Debug("busy report", "workspace", ws.Ref().String(), "cpu_cores", req.Cores)
	}
	if fresh, err := g.cfg.Backend.Get(r.Context(), ws.Ref()); err == nil {
		ws = fresh
	}
	g.writeAgentStatus(w, r, ws)
}

func (g *Gateway) agentStop(w http.ResponseWriter, r *http.Request) {
	ws, ok := g.agentCaller(w, r)
	if !ok {
		return
	}
	if err := g.stopWorkspace(r.Context(), ws.User, ws.Ref(), "from the workspace (codehub extension)"); err != nil {
		writeJSON(w, http.StatusInternalServerError, apiError{err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"state": "stopping"})
}

// ago renders a duration for people: "42 s", "5 min", "2 h 10 min".
func ago(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	}
	return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
}
