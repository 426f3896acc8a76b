package gateway

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/codehub-dev/codehub/internal/vsproto"
)

// An open workbench whose workspace stopped (or whose user signed out) reconnects its
// WebSockets at once and then every few seconds, forever: a 503 or 401 to the upgrade
// reads to VS Code as "temporarily unavailable" ("Attempting to reconnect…", and "Reconnect
// Now" can never succeed). The gateway instead completes the upgrade itself and answers the
// workbench's handshake as code-server answers a connection it cannot take: a control
// message {"type":"error","reason":…}. VS Code treats that as permanent and shows its modal
// "Cannot reconnect. Please reload the window." with a Reload Window button at once; the
// reload is a page visit, which starts the workspace again (or signs the user in).

// Reasons an open tab is told (VS Code logs them; its dialog has its own words).
const (
	reasonStopped   = "codehub: this workspace is not running (it was stopped); reload the window to start it again"
	reasonSignedOut = "codehub: you are signed out; reload the window to sign in again"
)

// isVSCodeSocket reports whether r opens one of the workbench's remote connections (VS
// Code always puts reconnectionToken in their query).
func isVSCodeSocket(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.EqualFold(r.Header.Get("Upgrade"), "websocket") &&
		r.URL.Query().Has("reconnectionToken") && r.Header.Get("Sec-WebSocket-Key") != ""
}

const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// tombstone answers a workbench connection with VS Code's handshake error and closes it.
// No workspace is involved: nothing is proxied, whoever asks (same origin only).
func (g *Gateway) tombstone(w http.ResponseWriter, r *http.Request, reason string) {
	if !sameOrigin(r, g.cfg.Secure) {
		http.Error(w, "cross-origin WebSocket refused", http.StatusForbidden)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "workspace not running", http.StatusServiceUnavailable)
		return
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	sum := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + websocketGUID))
	head := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n"
	if _, err := brw.WriteString(head); err != nil || brw.Flush() != nil {
		return
	}
	// Wait for the client's first control message (its auth request), as code-server does.
	if err := awaitControl(brw.Reader); err != nil {
		g.cfg.Logger.Debug("tombstone: no handshake from the workbench", "err", err)
		return
	}
	body, _ := json.Marshal(map[string]string{"type": "error", "reason": reason})
	msg := make([]byte, vsproto.HeaderLen, vsproto.HeaderLen+len(body))
	msg[0] = byte(vsproto.TypeControl)
	msg[9], msg[10], msg[11], msg[12] = byte(len(body)>>24), byte(len(body)>>16), byte(len(body)>>8), byte(len(body))
	msg = append(msg, body...)
	_, _ = brw.Write(serverFrame(0x2, msg))
	_, _ = brw.Write(serverFrame(0x8, []byte{0x03, 0xe8})) // close, 1000
	_ = brw.Flush()
	g.cfg.Logger.Info("told an open workbench to reload", "reason", reason, "path", r.URL.Path)
}

// awaitControl reads client frames until a whole PersistentProtocol control message has
// arrived (at most 64 KiB are read).
func awaitControl(r *bufio.Reader) error {
	got := false
	c := vsproto.NewConn(func(d vsproto.Direction, _ vsproto.ConnType, m vsproto.Message) {
		if m.Type == vsproto.TypeControl {
			got = true
		}
	})
	buf := make([]byte, 4096)
	for total := 0; !got; {
		n, err := r.Read(buf)
		if n > 0 {
			if ferr := c.Feed(vsproto.ClientToServer, buf[:n]); ferr != nil {
				return ferr
			}
		}
		if got {
			break
		}
		if err != nil {
			return err
		}
		if total += n; total > 64<<10 {
			return errors.New("no control message in the first 64 KiB")
		}
	}
	return nil
}

// serverFrame is one unmasked, final WebSocket frame.
func serverFrame(opcode byte, payload []byte) []byte {
	out := []byte{0x80 | opcode}
	switch n := len(payload); {
	case n < 126:
		out = append(out, byte(n))
	case n < 1<<16:
		out = append(out, 126, byte(n>>8), byte(n))
	default:
		out = append(out, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(out, payload...)
}
