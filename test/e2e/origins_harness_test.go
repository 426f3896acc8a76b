package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"testing"
	"time"
)

// originsGateway is a gateway over TLS with --workspace-origins vscode.test:<port>: every
// workspace on a host of its own. Its clients dial the gateway whatever host a URL names,
// so no DNS is needed for the workspace hosts.
type originsGateway struct {
	*gateway
	t    *testing.T
	port int
	base string // main host: "vscode.test:<port>"
}

func startOriginsGateway(t *testing.T, state string, extra ...string) *originsGateway {
	t.Helper()
	o := &originsGateway{t: t, port: freePort(t)}
	o.base = fmt.Sprintf("vscode.test:%d", o.port)
	cert, key := selfSigned(t, "vscode.test", "*.vscode.test")
	o.gateway = startGatewayWith(t, gatewayOptions{stateDir: state, port: o.port, health: o.client(), healthURL: "https://" + o.base + "/_codehub/healthz"},
		append([]string{"--idle-timeout", "0", "--tls-cert", cert, "--tls-key", key, "--workspace-origins", o.base}, extra...)...)
	return o
}

// client is a browser-like client (own cookie jar) of the gateway.
func (o *originsGateway) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 60 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // the test's own self-signed cert
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, fmt.Sprintf("127.0.0.1:%d", o.port))
		},
	}}
}

// signIn is a client signed in on the main host as user (password user+"-password").
func (o *originsGateway) signIn(user string) *http.Client {
	c := o.client()
	resp, err := c.PostForm("https://"+o.base+"/_codehub/login", url.Values{"username": {user}, "password": {user + "-password"}, "next": {"/"}})
	if err != nil {
		o.t.Fatal(err)
	}
	resp.Body.Close()
	return c
}

// visit is a page visit of rawURL with c (what a browser's navigation sends), body read.
func (o *originsGateway) visit(c *http.Client, rawURL string) (*http.Response, string) {
	o.t.Helper()
	req, _ := http.NewRequest("GET", rawURL, nil)
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	resp, err := c.Do(req)
	if err != nil {
		o.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}
