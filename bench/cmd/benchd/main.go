// Command benchd is the benchmark's backend and helpers, in one small Go binary:
//
//   - the backend every target proxies to: /small (a short response), /asset (1 MiB),
//     /ws (WebSocket echo) and /healthz;
//   - a code-server stand-in, so codehub's local backend can launch it as the workspace:
//     `benchd --version` prints a code-server-like version, code-server's flags are
//     accepted, it listens on --bind-addr or --socket, and with $HASHED_PASSWORD set it
//     answers only requests carrying code-server's session cookie with that value, as
//     code-server does (/healthz excepted);
//   - the verification endpoint of nginx's auth_request (/auth: 200 when the request
//     carries the expected session cookie, else 401), with --auth-cookie;
//   - the Go floor: with --proxy-to URL it is a bare httputil.ReverseProxy and nothing else.
package main

import (
	"bytes"
	"context"
	"crypto/subtle"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// Version is what `benchd --version` prints: code-server's format (version, then more).
const Version = "4.139.1 bench-standin"

// valueFlags are code-server's flags that take a value; benchd's own are handled apart.
var valueFlags = map[string]bool{
	"--auth": true, "--user-data-dir": true, "--extensions-dir": true,
	"--reconnection-grace-time": true, "--locale": true, "--socket-mode": true,
}

type options struct {
	bind       string
	socket     string
	proxyTo    string
	authCookie string // name=value the /auth endpoint expects
	// extensionCommand is code-server's extension CLI (--install-extension ID, …), which
	// codehub-init runs before the server: the stand-in has no extensions, says so, exits 0.
	extensionCommand string
}

func parseArgs(args []string) (options, bool, error) {
	o := options{bind: "127.0.0.1:8080"}
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := strings.Cut(a, "=")
		take := func() (string, error) {
			if hasVal {
				return val, nil
			}
			if i+1 >= len(args) {
				return "", fmt.Errorf("%s needs a value", name)
			}
			i++
			return args[i], nil
		}
		var err error
		switch {
		case name == "--version" || name == "-v":
			return o, true, nil
		case name == "--bind-addr":
			o.bind, err = take()
		case name == "--socket":
			o.socket, err = take()
		case name == "--proxy-to":
			o.proxyTo, err = take()
		case name == "--auth-cookie":
			o.authCookie, err = take()
		case name == "--install-extension" || name == "--uninstall-extension":
			var id string
			id, err = take()
			o.extensionCommand = name + " " + id
		case name == "--list-extensions":
			o.extensionCommand = name
		case valueFlags[name]:
			_, err = take()
		default:
			// --disable-telemetry, --disable-update-check, ... and the positional folder
		}
		if err != nil {
			return o, false, err
		}
	}
	return o, false, nil
}

func main() {
	o, version, err := parseArgs(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchd:", err)
		os.Exit(2)
	}
	if version {
		fmt.Println(Version)
		return
	}
	if o.extensionCommand != "" {
		fmt.Printf("benchd (code-server stand-in): %s: nothing to do, no extensions here\n", o.extensionCommand)
		return
	}
	var h http.Handler
	if o.proxyTo != "" {
		h, err = bareProxy(o.proxyTo)
		if err != nil {
			log.Fatal(err)
		}
	} else {
		h = backendMux(o.authCookie)
	}
	if secret := os.Getenv("HASHED_PASSWORD"); secret != "" {
		os.Unsetenv("HASHED_PASSWORD")
		h = requireCookie(h, "code-server-session="+secret)
	}
	srv := &http.Server{Addr: o.bind, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	if o.socket == "" {
		log.Fatal(srv.ListenAndServe())
	}
	os.Remove(o.socket)
	ln, err := net.Listen("unix", o.socket)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.Chmod(o.socket, 0o600); err != nil {
		log.Fatal(err)
	}
	log.Fatal(srv.Serve(ln))
}

// requireCookie answers only requests whose Cookie header carries want (name=value), as
// code-server with --auth password does; /healthz stays open for probes.
func requireCookie(h http.Handler, want string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			ok := false
			for _, line := range r.Header["Cookie"] {
				for _, part := range strings.Split(line, ";") {
					if subtle.ConstantTimeCompare([]byte(strings.TrimSpace(part)), []byte(want)) == 1 {
						ok = true
					}
				}
			}
			if !ok {
				http.Error(w, "Unauthorized", http.StatusUnauthorized)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// bareProxy is the Go floor: the standard library's reverse proxy with a Transport that
// keeps enough idle connections for the benchmark's concurrency, and nothing else.
func bareProxy(target string) (http.Handler, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 256, 256
	tr.DisableCompression = true
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
		},
		Transport:     tr,
		FlushInterval: -1,
	}, nil
}

// Small is the short response: about the size of a small JSON answer.
var small = []byte(`{"ok":true,"service":"benchd","note":"small response for proxy benchmarks"}` + "\n")

// AssetSize is the size of /asset.
const AssetSize = 1 << 20

func backendMux(authCookie string) http.Handler {
	asset := bytes.Repeat([]byte("0123456789abcdef"), AssetSize/16)
	want := []byte(authCookie)
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"alive"}`)
	})
	mux.HandleFunc("/asset", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", fmt.Sprint(len(asset)))
		w.Write(asset)
	})
	mux.HandleFunc("/auth", func(w http.ResponseWriter, r *http.Request) {
		// The verification endpoint of nginx's auth_request: one cookie compared in
		// constant time, no body.
		if len(want) > 0 && hasCookie(r, want) {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true, CompressionMode: websocket.CompressionDisabled})
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(1 << 20)
		ctx := context.Background()
		for {
			typ, msg, err := c.Read(ctx)
			if err != nil {
				return
			}
			if err := c.Write(ctx, typ, msg); err != nil {
				return
			}
		}
	})
	// Everything else (/, /small, the wake page's GET /) is the small response.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(small)
	})
	return mux
}

// hasCookie reports whether one of the request's cookies is exactly want ("name=value").
func hasCookie(r *http.Request, want []byte) bool {
	for _, line := range r.Header["Cookie"] {
		for part := range strings.SplitSeq(line, ";") {
			p := strings.TrimSpace(part)
			if len(p) == len(want) && subtle.ConstantTimeCompare([]byte(p), want) == 1 {
				return true
			}
		}
	}
	return false
}
