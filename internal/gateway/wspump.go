package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/http/httpguts"
)

// The gateway proxies a WebSocket's bytes itself once the workspace has answered 101,
// instead of letting httputil.ReverseProxy do it. ReverseProxy keeps four goroutines per
// socket (the request's handler, its context watcher and one io.Copy per direction, each
// holding a 32 KiB buffer through every blocking read), and the handler's goroutine pins
// the request, the server's buffered reader and writer and its own deep stack for the
// socket's whole life. Here the handler returns at once and two goroutines with shallow
// stacks move the bytes, each holding a copy buffer only while there is something to read:
// an idle socket (most of a workbench's) holds none.
//
// How: the route's ModifyResponse sees the 101 first (takeOver); the upstream connection
// comes from the transport's GotConn trace, set on upgrade requests only.

// errTakenOver tells the proxies' error handlers that ModifyResponse took the socket over
// (the "error" only makes ReverseProxy stop): nothing to answer.
var errTakenOver = errors.New("websocket taken over by the gateway")

type trackerKey struct{}

// withTracker puts h in r's context, where the upstream request (Rewrite) and its 101
// response (ModifyResponse) find it.
func withTracker(r *http.Request, h *hijackTracker) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), trackerKey{}, h))
}

func trackerFrom(ctx context.Context) *hijackTracker {
	h, _ := ctx.Value(trackerKey{}).(*hijackTracker)
	return h
}

// traceConn is called from the proxies' Rewrite: on an upgrade request it learns the
// upstream connection the transport sends it on.
func traceConn(out *http.Request, in *http.Request) *http.Request {
	h := trackerFrom(in.Context())
	if h == nil {
		return out
	}
	return out.WithContext(httptrace.WithClientTrace(out.Context(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { h.upstream = info.Conn },
	}))
}

// takeOverUpgrade is the tail of the proxies' ModifyResponse: a 101 to a tracked request
// is taken over (see above).
func takeOverUpgrade(resp *http.Response) error {
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return nil
	}
	h := trackerFrom(resp.Request.Context())
	if h == nil {
		return nil // ReverseProxy copies it
	}
	return h.takeOver(resp)
}

// takeOver checks the 101 as ReverseProxy would, hijacks the client connection, sends it
// the response head and starts the two pumps.
func (h *hijackTracker) takeOver(resp *http.Response) error {
	reqUp, resUp := upgradeType(resp.Request.Header), upgradeType(resp.Header)
	if resUp == "" || !httpguts.ValidHeaderFieldValue(resUp) || !equalFold(reqUp, resUp) {
		return fmt.Errorf("backend tried to switch protocol %q when %q was requested", resUp, reqUp)
	}
	back, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		return errors.New("101 switching protocols response with non-writable body")
	}
	conn, brw, err := http.NewResponseController(h).Hijack()
	if err != nil {
		return fmt.Errorf("hijack failed on protocol switch: %w", err)
	}
	wc := conn.(*wsConn)
	for k, vv := range resp.Header {
		h.Header()[k] = vv
	}
	resp.Header, resp.Body = h.Header(), nil // Write sends the head only
	err = resp.Write(brw)
	if err == nil {
		err = brw.Flush()
	}
	resp.Body = http.NoBody // what ReverseProxy closes after the "error"
	if err != nil {
		wc.Close()
		back.Close()
		return errTakenOver
	}
	s := &socketPair{client: wc, back: back, upstream: h.upstream}
	s.clientBuffered = buffered(brw.Reader)
	go s.toBackend()
	go s.toClient()
	return errTakenOver
}

func upgradeType(h http.Header) string {
	if !httpguts.HeaderValuesContainsToken(h["Connection"], "Upgrade") {
		return ""
	}
	return h.Get("Upgrade")
}

func equalFold(a, b string) bool {
	return len(a) == len(b) && httpguts.HeaderValuesContainsToken([]string{a}, b)
}

// buffered returns what the server read past the request head (a client may send its
// first frames with the handshake).
func buffered(r *bufio.Reader) []byte {
	n := r.Buffered()
	if n == 0 {
		return nil
	}
	p, _ := r.Peek(n)
	return append([]byte(nil), p...)
}

// socketPair is one proxied WebSocket: the client's connection (frames followed by
// wsConn) and the workspace's (the 101 response's body).
type socketPair struct {
	client         *wsConn
	back           io.ReadWriteCloser
	upstream       net.Conn // the connection under back, when the trace saw it
	clientBuffered []byte
	once           sync.Once
}

func (s *socketPair) close() {
	s.once.Do(func() {
		s.client.Close()
		s.back.Close()
	})
}

// toBackend copies what the client sends to the workspace, feeding the activity follower.
func (s *socketPair) toBackend() {
	defer s.close()
	if len(s.clientBuffered) > 0 {
		s.client.observe(s.clientBuffered)
		if _, err := s.back.Write(s.clientBuffered); err != nil {
			return
		}
		s.clientBuffered = nil
	}
	if raw := rawConn(s.client.Conn); raw != nil {
		pumpRaw(s.back, raw, s.client.observe)
		return
	}
	pump(s.back, s.client) // wsConn.Read observes
}

// toClient copies what the workspace sends to the client through wsConn.Write, which
// follows the frames (a close frame never lands inside one).
func (s *socketPair) toClient() {
	defer s.close()
	raw := rawConn(s.upstream)
	if raw == nil || !s.drainBody() {
		pump(s.client, s.back)
		return
	}
	pumpRaw(s.client, raw, nil)
}

// drainBody forwards what the transport read past the 101 head (it is in the body's
// buffer, before the connection's own bytes), then reports whether the connection can be
// read directly: a read deadline in the past makes the body's first read of the
// connection itself return at once.
func (s *socketPair) drainBody() bool {
	if s.upstream.SetReadDeadline(time.Unix(1, 0)) != nil {
		return false
	}
	buf := copyBuffers.Get()
	defer copyBuffers.Put(buf)
	for {
		n, err := s.back.Read(buf)
		if n > 0 {
			if _, werr := s.client.Write(buf[:n]); werr != nil {
				return false
			}
		}
		if err != nil {
			return errors.Is(err, os.ErrDeadlineExceeded) && s.upstream.SetReadDeadline(time.Time{}) == nil
		}
	}
}

// pump copies src to dst with a pooled buffer (TLS connections and other wrappers, which
// keep buffers of their own anyway).
func pump(dst io.Writer, src io.Reader) {
	buf := copyBuffers.Get()
	defer copyBuffers.Put(buf)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func rawConn(c net.Conn) syscall.RawConn {
	sc, ok := c.(syscall.Conn)
	if !ok || c == nil {
		return nil
	}
	if _, isTCP := c.(*net.TCPConn); !isTCP {
		if _, isUnix := c.(*net.UnixConn); !isUnix {
			return nil
		}
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}

// pumpRaw copies src to dst, taking a buffer from the pool only once src is readable and
// giving it back before waiting again; observe (if set) sees every chunk first.
func pumpRaw(dst io.Writer, src syscall.RawConn, observe func([]byte)) {
	for {
		buf, n, err := readRaw(src)
		if n > 0 {
			if observe != nil {
				observe(buf[:n])
			}
			_, err = dst.Write(buf[:n])
		}
		if buf != nil {
			copyBuffers.p.Put(buf)
		}
		if err != nil {
			return
		}
	}
}

// readRaw is one read(2) of src into a pooled buffer, made when the poller says src is
// readable (the same loop as net.Conn.Read, with the buffer out of hand while it waits).
func readRaw(src syscall.RawConn) (buf *[copyBufferSize]byte, n int, err error) {
	var rerr error
	err = src.Read(func(fd uintptr) bool {
		if buf == nil {
			buf = copyBuffers.array()
		}
		for {
			n, rerr = syscall.Read(int(fd), buf[:])
			if rerr != syscall.EINTR {
				break
			}
		}
		if rerr == syscall.EAGAIN {
			copyBuffers.p.Put(buf)
			buf = nil
			return false
		}
		return true
	})
	switch {
	case err != nil:
	case rerr != nil:
		err = rerr
	case n == 0:
		err = io.EOF
	}
	if n < 0 {
		n = 0
	}
	return buf, n, err
}
