package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/workspacebuild"
)

// Markers of code-server content that must never reach a caller without the credential.
var workbenchMarkers = []string{"vscode-workbench-web-configuration", "workbench/workbench.js", "code/didStartRenderer"}

// TestPodCodeServerRequiresCredential runs the real codehub-init and code-server exactly as
// the operator's Deployment starts them (with the credential from the Workspace's Secret in
// HASHED_PASSWORD) and asks for the workbench, a file, both port proxies, a WebSocket,
// the login page and /mint-key: without the code-server-session cookie, or with a wrong
// one, no workbench, file or proxied byte comes back; with the credential as the cookie,
// all of it does. /healthz (the probes) needs no cookie.
func TestPodCodeServerRequiresCredential(t *testing.T) {
	o := workspacebuild.DefaultOptions()
	o.WorkspaceOrigins = "vscode.example.com"
	p := startPodCodeServer(t, o)
	if !strings.Contains(p.logs.String(), "Using proxy URI in PORTS tab: //p{{port}}--") {
		t.Errorf("code-server did not take VSCODE_PROXY_URI from the pod's env:\n%s", p.logs.String())
	}

	// A file only code-server can serve, and an app on a local port for /proxy/<port>/.
	fileMarker := "file-content-" + randomHex(t)[:16]
	file := filepath.Join(t.TempDir(), "private.txt")
	must(t, os.WriteFile(file, []byte(fileMarker), 0o600))
	hostname, err := os.ReadFile("/etc/hostname")
	must(t, err)
	appMarker := "proxied-app-" + randomHex(t)[:16]
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	app := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, appMarker+" "+r.URL.Path) })}
	go app.Serve(ln)
	t.Cleanup(func() { app.Close() })
	appPort := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	client := &http.Client{Timeout: 60 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	type result struct {
		status         int
		location, body string
	}
	do := func(method, path, cookie string) result {
		t.Helper()
		req, err := http.NewRequest(method, p.base+path, nil)
		must(t, err)
		if cookie != "" {
			req.Header.Set("Cookie", backend.CodeServerCookie+"="+cookie)
		}
		resp, err := client.Do(req)
		must(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return result{resp.StatusCode, resp.Header.Get("Location"), string(b)}
	}
	secretContent := append(append([]string{}, workbenchMarkers...), fileMarker, appMarker, strings.TrimSpace(string(hostname)))

	type want struct {
		status   int
		location string // for redirects
	}
	remoteFile := "/vscode-remote-resource?path=" + file
	for _, tc := range []struct {
		method, path string
		refused      want     // without the cookie and with a wrong one: exactly this
		ok           want     // with the credential
		okBody       []string // what the body then contains
	}{
		{"GET", "/", want{302, "./login"}, want{302, "./?folder=/home/codehub"}, nil},
		{"GET", "/?folder=/tmp", want{302, "./login?folder=/tmp&to="}, want{200, ""}, []string{"vscode-workbench-web-configuration", "workbench/workbench.js"}},
		{"GET", "/vscode-remote-resource?path=/etc/hostname", want{401, ""}, want{200, ""}, []string{string(hostname)}},
		{"GET", remoteFile, want{401, ""}, want{200, ""}, []string{fileMarker}},
		{"GET", "/proxy/" + appPort + "/", want{302, "./../../login"}, want{200, ""}, []string{appMarker + " /"}},
		{"GET", "/proxy/" + appPort + "/deeper/page", want{401, ""}, want{200, ""}, []string{appMarker + " /deeper/page"}},
		{"GET", "/absproxy/" + appPort + "/", want{302, "./../../login"}, want{200, ""}, []string{appMarker + " /absproxy/" + appPort + "/"}},
		{"GET", "/login", want{200, ""}, want{302, "./"}, nil},
		{"POST", "/mint-key", want{401, ""}, want{200, ""}, nil},
	} {
		for _, cookie := range []string{"", randomHex(t)} {
			r := do(tc.method, tc.path, cookie)
			label := fmt.Sprintf("%s %s (cookie %t, wrong)", tc.method, tc.path, cookie != "")
			if r.status != tc.refused.status || r.location != tc.refused.location {
				t.Errorf("%s: %d %q, want %d %q", label, r.status, r.location, tc.refused.status, tc.refused.location)
			}
			for _, s := range secretContent {
				if strings.Contains(r.body, s) {
					t.Errorf("%s: body carries %q:\n%.300s", label, s, r.body)
				}
			}
			if tc.path == "/login" && !strings.Contains(r.body, `type="password"`) {
				t.Errorf("%s: not code-server's password form:\n%.300s", label, r.body)
			}
		}
		r := do(tc.method, tc.path, p.credential)
		if r.status != tc.ok.status || r.location != tc.ok.location {
			t.Errorf("%s %s with the credential: %d %q, want %d %q\n%.300s", tc.method, tc.path, r.status, r.location, tc.ok.status, tc.ok.location, r.body)
		}
		for _, s := range tc.okBody {
			if !strings.Contains(r.body, s) {
				t.Errorf("%s %s with the credential: body lacks %q:\n%.300s", tc.method, tc.path, s, r.body)
			}
		}
		if tc.path == "/mint-key" && len(r.body) < 16 {
			t.Errorf("/mint-key with the credential: %d bytes, want a key", len(r.body))
		}
	}

	// The WebSocket the workbench opens, with a same-origin Origin: refused (401, no upgrade)
	// without the credential, switched (101) with it.
	wsPath := "/?reconnectionToken=" + randomHex(t)[:32] + "&reconnection=false&skipWebSocketFrames=false"
	for _, cookie := range []string{"", randomHex(t), p.credential} {
		status, head := upgrade(t, p.base, wsPath, cookie)
		want := 401
		if cookie == p.credential {
			want = 101
		}
		if status != want {
			t.Errorf("WebSocket upgrade (cookie %q…): %d, want %d\n%s", cookie[:min(len(cookie), 8)], status, want, head)
		}
	}

	// The probes' path needs nothing.
	if r := do("GET", "/healthz", ""); r.status != 200 || !strings.Contains(r.body, `"status"`) {
		t.Errorf("/healthz without a cookie: %d %.100s", r.status, r.body)
	}

	// Serving the workbench page spawns no process of its own (that takes a browser, see
	// TestPodCodeServerChildrenEnv); whatever code-server runs below itself now, none has the
	// credential in its environment.
	t.Logf("processes below the pod's code-server without a browser: %q", p.checkChildrenEnv(t))
}

// upgrade sends a WebSocket upgrade request with the cookie and returns the status code and
// the response head.
func upgrade(t *testing.T, base, path, cookie string) (int, string) {
	t.Helper()
	host := strings.TrimPrefix(base, "http://")
	conn, err := net.DialTimeout("tcp", host, 5*time.Second)
	must(t, err)
	defer conn.Close()
	must(t, conn.SetDeadline(time.Now().Add(60*time.Second)))
	req := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nOrigin: " + base + "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	if cookie != "" {
		req += "Cookie: " + backend.CodeServerCookie + "=" + cookie + "\r\n"
	}
	_, err = io.WriteString(conn, req+"\r\n")
	must(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	must(t, err)
	var head strings.Builder
	_ = resp.Header.Write(&head)
	return resp.StatusCode, resp.Status + "\n" + head.String()
}
