package gateway

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/codehub-dev/codehub/internal/vsproto"
)

// Activity is a person or a job, not a connection. An untouched open workbench keeps its
// WebSockets busy by itself (keep-alive and ack frames every few seconds, and a few
// regular messages of its own: docs/idle.md has the measured table), so bytes on a
// connection say nothing. What the gateway counts as activity:
//
//   - a page visit (a navigation) to the workspace, or to one of its ports;
//   - a state-changing request (not GET/HEAD) to one of its ports' apps;
//   - on the workbench's connections, client-to-server messages that only a person's input
//     produces (personal, below): typing or moving the cursor in an editor, opening and
//     closing editors, saving, input in a terminal, running a command;
//   - the codehub extension's "Keep running", and busy work reported from the workspace or
//     measured by the backend (CPU, see the backends);
//   - an API or CLI start (the backends count a start).
//
// The gateway follows the client-to-server stream of each workbench connection with
// internal/vsproto (frames, permessage-deflate, VS Code's 13-byte protocol header and the
// start of each message), without touching it: the server-to-client frame follower of
// websocket.go still decides where a close frame may go.

// personalRPC are extension-host RPC methods the workbench calls only because of input.
var personalRPC = map[string]bool{
	"$acceptModelChanged":                  true, // an edit in a text editor or notebook cell
	"$acceptEditorPropertiesChanged":       true, // selection, cursor, scroll in an editor
	"$acceptDocumentsAndEditorsDelta":      true, // an editor opened or closed
	"$acceptActiveEditorAndVisibleEditors": true,
	"$acceptModelSaved":                    true,
	"$acceptDirtyStateChanged":             true,
	"$executeContributedCommand":           true, // a command of an extension run from the UI
	"$onDidChangeTextEditorSelection":      true,
	"$executeCells":                        true, // running notebook cells (the kernel's CPU then counts too)
	"$cancelCells":                         true,
	"$onWillRunFileOperation":              true, // a file created, renamed, deleted in the Explorer
	"$onDidRunFileOperation":               true,
}

// personalIPC are management-connection IPC calls made only because of input. File writes
// are not among them: the workbench writes its own state too (with AI features on, a chat
// editing session's state.json every 5 s, measured), so a save counts by
// $acceptModelSaved instead.
var personalIPC = map[string]bool{
	"remoteterminal.$input": true, // keys typed into a terminal
}

// personal reports whether a client-to-server message on a workbench connection can only
// come from a person working, and names it.
func personal(ct vsproto.ConnType, m vsproto.Message) (string, bool) {
	if m.Type != vsproto.TypeRegular {
		return "", false
	}
	switch ct {
	case vsproto.ConnExtensionHost:
		name := vsproto.Describe(ct, m)
		return name, personalRPC[name]
	case vsproto.ConnManagement:
		name := vsproto.Describe(ct, m)
		return name, personalIPC[name]
	}
	return "", false
}

// follower reads what a browser sends on one workbench connection.
type follower struct {
	conn   *vsproto.Conn
	lost   bool
	touch  func() // marks the workspace active
	onLost func() // the stream could not be followed (said once)
}

func (g *Gateway) newFollower(rt *route) *follower {
	f := &follower{
		touch: func() { rt.activity.Touch(g.cfg.Clock.Now()) },
		onLost: func() {
			g.cfg.Logger.Warn("cannot follow a workbench connection; counting all its traffic as activity", "workspace", rt.ref.String())
		},
	}
	debug := g.cfg.Logger.Enabled(context.Background(), slog.LevelDebug)
	f.conn = vsproto.NewConn(func(_ vsproto.Direction, ct vsproto.ConnType, m vsproto.Message) {
		if name, ok := personal(ct, m); ok {
			rt.activity.Touch(g.cfg.Clock.Now())
			if debug {
				g.cfg.Logger.Debug("activity", "workspace", rt.ref.String(), "message", name)
			}
		}
	})
	return f
}

// Read follows the client-to-server bytes (one reader: the proxy's copy to the workspace).
// A stream the gateway cannot follow (not VS Code's protocol, a compressed message beyond
// the buffer) falls back to the old rule, every byte is activity: a workspace must never
// be stopped under someone working because the gateway could not read their traffic.
func (c *wsConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.observe(p[:n])
	}
	return n, err
}

// observe feeds bytes the client sent to the follower (one caller at a time: the copy to
// the workspace).
func (c *wsConn) observe(p []byte) {
	f := c.client
	if f == nil {
		return
	}
	if !f.lost && f.conn.Feed(vsproto.ClientToServer, p) != nil {
		f.lost = true
		f.onLost()
	}
	if f.lost {
		f.touch()
	}
}

// navigationActivity counts a page visit (or a port app's state change) as activity.
func (g *Gateway) requestActivity(rt *route, r *http.Request, portApp bool) {
	if isNavigation(r) || (portApp && r.Method != http.MethodGet && r.Method != http.MethodHead && r.Header.Get("Upgrade") == "") {
		rt.activity.Touch(g.cfg.Clock.Now())
	}
}
