package onnode

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// platform stands in for the data platform the seed's install authenticates against
// (Iguazio's dashboard): a login page that sets the platform's session cookie for the whole
// platform domain, and the verification endpoint the gateway's forward auth calls
// (POST /api/data_sessions/verifications/app_service), which answers a valid session with
// X-Remote-User, X-User-Group-Ids, X-Unix-Uid and X-Unix-Gid (docs/authentication.md) and
// anything else with 401. It listens on the node's bridge address, where the gateway pod
// reaches it (as pods reach a platform service) and the browser does through a host name
// mapped to that address.
type platform struct {
	srv      *http.Server
	addr     string // host:port on testnode.NodeIP
	domain   string // cookie domain, e.g. codehub.test
	mu       sync.Mutex
	users    map[string]platformUser // by name
	sessions map[string]string       // session cookie → user
	verified atomic.Int64
}

type platformUser struct {
	Name, Password string
	UID, GID       int
	Groups         []string
}

const verifyPath = "/api/data_sessions/verifications/app_service"

func startPlatform(bindIP, domain string) (*platform, error) {
	ln, err := net.Listen("tcp4", net.JoinHostPort(bindIP, "0"))
	if err != nil {
		return nil, err
	}
	p := &platform{addr: ln.Addr().String(), domain: domain, users: map[string]platformUser{}, sessions: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+verifyPath, p.verify)
	mux.HandleFunc("GET /login", p.loginPage)
	mux.HandleFunc("POST /login", p.login)
	p.srv = &http.Server{Handler: mux}
	go p.srv.Serve(ln)
	return p, nil
}

func (p *platform) close() { _ = p.srv.Close() }

// port is the platform's TCP port (the same on the bridge address and the mapped name).
func (p *platform) port() int {
	_, port, _ := net.SplitHostPort(p.addr)
	n, _ := strconv.Atoi(port)
	return n
}

func (p *platform) addUser(u platformUser) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.users[u.Name] = u
}

// session signs name in without the login page (what the cookie would be after it), for the
// users a test drives with plain HTTP.
func (p *platform) session(t testing.TB, name string) string {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.users[name]; !ok {
		t.Fatalf("platform: no user %q", name)
	}
	s := randomHex(16)
	p.sessions[s] = name
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (p *platform) verify(w http.ResponseWriter, r *http.Request) {
	p.verified.Add(1)
	c, err := r.Cookie("session")
	if err != nil {
		http.Error(w, "no session", http.StatusUnauthorized)
		return
	}
	p.mu.Lock()
	name, ok := p.sessions[c.Value]
	u := p.users[name]
	p.mu.Unlock()
	if !ok {
		http.Error(w, "session not valid", http.StatusUnauthorized)
		return
	}
	w.Header().Set("X-Remote-User", u.Name)
	w.Header().Set("X-User-Group-Ids", strings.Join(u.Groups, ","))
	w.Header().Set("X-Unix-Uid", strconv.Itoa(u.UID))
	w.Header().Set("X-Unix-Gid", strconv.Itoa(u.GID))
	w.WriteHeader(http.StatusOK)
}

// returnTo accepts only URLs on the platform's own domain (an open redirect otherwise).
func (p *platform) returnTo(rd string) string {
	u, err := url.Parse(rd)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !strings.HasSuffix(u.Hostname(), "."+p.domain) {
		return ""
	}
	return u.String()
}

func (p *platform) loginPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!doctype html><title>Platform sign-in</title><h1>Data platform</h1>
<form method="post" action="/login"><input type="hidden" name="rd" value="%s">
<input id="username" name="username" autocomplete="username"><input id="password" name="password" type="password">
<button id="signin" type="submit">Sign in</button></form>`, html.EscapeString(r.URL.Query().Get("rd")))
}

func (p *platform) login(w http.ResponseWriter, r *http.Request) {
	name, pw := r.PostFormValue("username"), r.PostFormValue("password")
	p.mu.Lock()
	u, ok := p.users[name]
	p.mu.Unlock()
	if !ok || u.Password != pw {
		http.Error(w, "wrong user name or password", http.StatusUnauthorized)
		return
	}
	s := randomHex(16)
	p.mu.Lock()
	p.sessions[s] = name
	p.mu.Unlock()
	// The platform's cookie covers every app under its domain (vscode.<domain> among them).
	http.SetCookie(w, &http.Cookie{Name: "session", Value: s, Domain: p.domain, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	to := p.returnTo(r.PostFormValue("rd"))
	if to == "" {
		fmt.Fprintln(w, "signed in")
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}
