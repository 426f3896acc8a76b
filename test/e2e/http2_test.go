package e2e

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestTLSServesHTTP2AndWebSockets: with --tls-cert/--tls-key the gateway negotiates h2
// (ALPN) with a client that offers it, as browsers do, for pages and XHR; the workbench's
// WebSockets, which browsers open over HTTP/1.1 when the h2 connection does not offer
// RFC 8441 (Go's server does not by default), are upgraded and carry VS Code's protocol
// to the real code-server and back.
func TestTLSServesHTTP2AndWebSockets(t *testing.T) {
	state := stateWithUsers(t, "alice")
	port := freePort(t)
	base := fmt.Sprintf("https://127.0.0.1:%d", port)
	cert, key := selfSigned(t, "localhost")
	jar, _ := cookiejar.New(nil)
	h2 := &http.Client{Jar: jar, Timeout: 60 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // the test's own self-signed cert
		ForceAttemptHTTP2: true,                                  // offers h2 and http/1.1, like a browser
	}}
	startGatewayWith(t, gatewayOptions{stateDir: state, port: port, health: h2, healthURL: base + "/_codehub/healthz"},
		"--idle-timeout", "0", "--tls-cert", cert, "--tls-key", key)

	wantH2 := func(what string, resp *http.Response) {
		t.Helper()
		if resp.ProtoMajor != 2 || resp.TLS == nil || resp.TLS.NegotiatedProtocol != "h2" {
			t.Fatalf("%s: %s, ALPN %q; want HTTP/2 (h2)", what, resp.Proto, resp.TLS.NegotiatedProtocol)
		}
	}
	resp, err := h2.PostForm(base+"/_codehub/login", url.Values{"username": {"alice"}, "password": {"alice-password"}, "next": {"/"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	wantH2("sign-in", resp)
	eventually(t, 3*time.Minute, "the workbench over HTTP/2", func() bool {
		req, _ := http.NewRequest("GET", base+"/", nil)
		req.Header.Set("Accept", "text/html")
		req.Header.Set("Sec-Fetch-Mode", "navigate")
		req.Header.Set("Sec-Fetch-Dest", "document")
		resp, err := h2.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		wantH2("GET /", resp)
		return resp.StatusCode == 200 && strings.Contains(string(body), "vscode-workbench-web-configuration")
	})

	// The WebSocket on its own HTTP/1.1 connection, with the session from the h2 sign-in.
	u, _ := url.Parse(base)
	var cookies []string
	for _, c := range jar.Cookies(u) {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	wsTLS := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}
	var alpn []string // of each connection the WebSocket client opened
	ws := &http.Client{Transport: &http.Transport{DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&tls.Dialer{Config: wsTLS}).DialContext(ctx, network, addr)
		if err == nil {
			alpn = append(alpn, c.(*tls.Conn).ConnectionState().NegotiatedProtocol)
		}
		return c, err
	}}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, wresp, err := websocket.Dial(ctx, strings.Replace(base, "https://", "wss://", 1)+
		"/?reconnectionToken=5b1c6b0e-0b0e-4a53-a8c3-2f2d3d6f4c11&reconnection=false&skipWebSocketFrames=false",
		&websocket.DialOptions{HTTPClient: ws, HTTPHeader: http.Header{"Origin": {base}, "Cookie": {strings.Join(cookies, "; ")}}})
	if err != nil {
		t.Fatalf("WebSocket over TLS: %v (response %v)", err, wresp)
	}
	defer c.CloseNow()
	if len(alpn) != 1 || alpn[0] != "http/1.1" {
		t.Fatalf("WebSocket connections' ALPN %q, want one http/1.1", alpn)
	}
	// VS Code's first step: the client's auth control message; code-server answers with
	// a control message of its own (type 2 in the 13-byte protocol header).
	auth := []byte(`{"type":"auth","auth":"00000000000000000000","data":"x"}`)
	msg := make([]byte, 13, 13+len(auth))
	msg[0] = 2
	binary.BigEndian.PutUint32(msg[9:], uint32(len(auth)))
	if err := c.Write(ctx, websocket.MessageBinary, append(msg, auth...)); err != nil {
		t.Fatal(err)
	}
	_, reply, err := c.Read(ctx)
	if err != nil || len(reply) < 13 || reply[0] != 2 {
		t.Fatalf("code-server's answer through the TLS WebSocket: %q, %v", reply, err)
	}
	t.Logf("code-server answered: %.120s", reply[13:])
}
