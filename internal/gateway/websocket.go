package gateway

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/codehub-dev/codehub/internal/vsproto"
	"github.com/prometheus/client_golang/prometheus"
)

// socketSet tracks hijacked (WebSocket) client connections so shutdown can close them
// with 1001 "going away" instead of dropping them; http.Server.Shutdown ignores them.
type socketSet struct {
	mu    sync.Mutex
	conns map[*wsConn]struct{}
	gauge prometheus.Gauge // open WebSockets; nil = not counted
}

func (s *socketSet) init(gauge prometheus.Gauge) {
	s.conns, s.gauge = map[*wsConn]struct{}{}, gauge
}

// socketOwner is whose credential opened a WebSocket, so revoking it closes the socket.
type socketOwner struct {
	user    string
	session [16]byte // the session id (zero when the request had no codehub session)
}

// track wraps an upgrade request's writer, and puts the wrapper in the request's context
// for the proxy (wspump.go).
func (s *socketSet) track(w http.ResponseWriter, r *http.Request, owner socketOwner) (http.ResponseWriter, *http.Request) {
	h := &hijackTracker{ResponseWriter: w, set: s, owner: owner}
	return h, withTracker(r, h)
}

// trackRoute is track for a WebSocket to rt's workspace: what the client sends on it is
// fed to client (activity.go), and stopping the workspace closes it.
func (s *socketSet) trackRoute(w http.ResponseWriter, r *http.Request, owner socketOwner, rt *route, client *follower) (http.ResponseWriter, *http.Request) {
	h := &hijackTracker{ResponseWriter: w, set: s, owner: owner, rt: rt, client: client}
	return h, withTracker(r, h)
}

func (s *socketSet) add(c *wsConn) {
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
}

func (s *socketSet) remove(c *wsConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// closeAll sends a close frame (1001) on every tracked connection, at a frame boundary,
// and closes it.
func (s *socketSet) closeAll(ctx context.Context) {
	s.closeMatching(ctx, func(*wsConn) bool { return true }, closeGoingAway)
}

// closeWhere closes, with code, every tracked WebSocket whose owner matches; it returns
// how many it closed.
func (s *socketSet) closeWhere(match func(socketOwner) bool, code uint16) int {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return s.closeMatching(ctx, func(c *wsConn) bool { return match(c.owner) }, code)
}

// closeRoute sends close code on every tracked connection to rt's workspace.
func (s *socketSet) closeRoute(ctx context.Context, rt *route, code uint16) {
	s.closeMatching(ctx, func(c *wsConn) bool { return c.rt == rt }, code)
}

// closeMatching closes every tracked connection match selects, each with code at its next
// frame boundary (or at ctx's deadline), all at once; it waits for them and says how many.
func (s *socketSet) closeMatching(ctx context.Context, match func(*wsConn) bool, code uint16) int {
	s.mu.Lock()
	var hit []*wsConn
	for c := range s.conns {
		if match(c) {
			hit = append(hit, c)
		}
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range hit {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.closeWith(ctx, code)
		}()
	}
	wg.Wait()
	return len(hit)
}

// WebSocket close codes the gateway sends.
const (
	closeGoingAway = 1001 // the gateway shuts down
	// closeWorkspaceStopped: the workspace stopped. VS Code reconnects at once and is then
	// told why (tombstone.go).
	closeWorkspaceStopped = 4002
	// closeSignedOut (private range): the session that opened the socket was signed
	// out or revoked, or its account deleted or changed. Not a reconnect: sign in again.
	closeSignedOut = 4001
)

// hijackTracker wraps the ResponseWriter of an upgrade request; ReverseProxy hijacks
// it through http.ResponseController, which finds Hijack here first.
type hijackTracker struct {
	http.ResponseWriter
	set    *socketSet
	owner  socketOwner
	rt     *route    // nil: not a workspace's code-server (a port preview)
	client *follower // nil: the client's messages are not followed
	// upstream is the connection the upgrade request went out on (wspump.go).
	upstream net.Conn
}

func (h *hijackTracker) Unwrap() http.ResponseWriter { return h.ResponseWriter }

func (h *hijackTracker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	wc := &wsConn{Conn: conn, set: h.set, owner: h.owner, rt: h.rt, client: h.client}
	h.set.add(wc)
	if h.set.gauge != nil {
		h.set.gauge.Inc()
	}
	// Route buffered writes through the tracked conn, so frame boundaries are seen.
	brw.Writer.Reset(wc)
	return wc, brw, nil
}

// wsConn is the client side of a proxied WebSocket. It follows the server-to-client
// byte stream (HTTP 101 response, then unmasked frames) to know where frames end, so a
// close frame is never injected into the middle of another frame.
type wsConn struct {
	net.Conn
	set    *socketSet
	owner  socketOwner
	rt     *route
	client *follower // client-to-server messages (activity.go); nil = not followed

	mu        sync.Mutex
	closed    bool
	inBody    bool    // past the HTTP response head
	tail      [3]byte // last bytes of the head seen so far, to find "\r\n\r\n"
	hdr       [14]byte
	hdrLen    int
	remaining uint64 // payload bytes left in the current frame
	closeOnce sync.Once
}

func (c *wsConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	n, err := c.Conn.Write(p)
	c.follow(p[:n])
	return n, err
}

// follow advances the frame parser over bytes written to the client.
func (c *wsConn) follow(p []byte) {
	for len(p) > 0 {
		if !c.inBody {
			for i, b := range p {
				if c.tail[0] == '\r' && c.tail[1] == '\n' && c.tail[2] == '\r' && b == '\n' {
					c.inBody = true
					p = p[i+1:]
					break
				}
				c.tail[0], c.tail[1], c.tail[2] = c.tail[1], c.tail[2], b
			}
			if !c.inBody {
				return
			}
			continue
		}
		if c.remaining > 0 {
			k := uint64(len(p))
			if k > c.remaining {
				k = c.remaining
			}
			c.remaining -= k
			p = p[k:]
			continue
		}
		c.hdr[c.hdrLen] = p[0]
		c.hdrLen++
		p = p[1:]
		if need := vsproto.FrameHeaderLen(c.hdr[:c.hdrLen]); need == c.hdrLen {
			c.remaining = vsproto.FramePayloadLen(c.hdr[:c.hdrLen])
			c.hdrLen = 0
		}
	}
}

func (c *wsConn) atBoundary() bool { return c.inBody && c.remaining == 0 && c.hdrLen == 0 }

// closeWith writes a close frame with status code once the stream is between frames (or
// gives up on that at ctx's deadline) and closes the connection.
func (c *wsConn) closeWith(ctx context.Context, code uint16) {
	deadline := time.Now().Add(2 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	for {
		if c.mu.TryLock() {
			if c.atBoundary() || time.Now().After(deadline) {
				if c.atBoundary() && !c.closed {
					_ = c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
					_, _ = c.Conn.Write([]byte{0x88, 0x02, byte(code >> 8), byte(code)}) // FIN+close, 2-byte status
				}
				c.closed = true
				c.mu.Unlock()
				_ = c.Close()
				return
			}
			c.mu.Unlock()
		} else if time.Now().After(deadline) {
			_ = c.Close() // a writer is stuck on a slow client: unblock it
			return
		}
		time.Sleep(10 * time.Millisecond) // waiting on another goroutine's frame; no event to wait on
	}
}

func (c *wsConn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(func() {
		c.set.remove(c)
		if c.set.gauge != nil {
			c.set.gauge.Dec()
		}
	})
	return err
}
