package gateway

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestWebSocketBytesAroundTheHandshake: bytes that travel in the same packet as the
// handshake, in either direction, are proxied. The workspace's first frame arrives with
// its 101 (the transport has read it into its buffer before the gateway takes the socket
// over), and a client's first frame with its request (in the server's buffer); then the
// connection is read directly and frames keep flowing both ways.
func TestWebSocketBytesAroundTheHandshake(t *testing.T) {
	f := newFixture(t, 0)
	greeting := frame(5, false)
	received := make(chan []byte, 16)
	u := &upstream{srv: httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		head := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
		conn.Write(append([]byte(head), greeting...)) // one write: one packet
		buf := make([]byte, 4096)
		for {
			n, err := brw.Read(buf)
			if n > 0 {
				received <- bytes.Clone(buf[:n])
				conn.Write(frame(3, false)) // an answer to each chunk
			}
			if err != nil {
				return
			}
		}
	}))}
	t.Cleanup(u.srv.Close)
	f.be.byUser["alice"], f.be.running["alice"] = u, true

	c, err := net.Dial("tcp", strings.TrimPrefix(f.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	early, later := frame(7, true), frame(9, true)
	req := "GET /?reconnectionToken=1&reconnection=false&skipWebSocketFrames=false HTTP/1.1\r\nHost: " + strings.TrimPrefix(f.srv.URL, "http://") +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Origin: " + f.srv.URL + "\r\nCookie: " + f.cookie("alice") + "\r\n\r\n"
	if _, err := c.Write(append([]byte(req), early...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	got := make([]byte, len(greeting))
	if _, err := io.ReadFull(br, got); err != nil || !bytes.Equal(got, greeting) {
		t.Fatalf("the frame sent with the 101: %x, %v; want %x", got, err, greeting)
	}
	var upstreamGot []byte
	want := func(b []byte) {
		t.Helper()
		for !bytes.Contains(upstreamGot, b) {
			select {
			case p := <-received:
				upstreamGot = append(upstreamGot, p...)
			case <-time.After(10 * time.Second):
				t.Fatalf("the workspace got %x, not %x", upstreamGot, b)
			}
		}
	}
	want(early)
	if _, err := c.Write(later); err != nil {
		t.Fatal(err)
	}
	want(later)
	answer := frame(3, false)
	got = make([]byte, len(answer))
	if _, err := io.ReadFull(br, got); err != nil || !bytes.Equal(got, answer) {
		t.Fatalf("an answer after the handshake: %x, %v", got, err)
	}
}
