package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/codehub-dev/codehub/bench/internal/freeport"
	"github.com/codehub-dev/codehub/bench/internal/proc"
)

// Target is one thing put in front of the backend.
type Target struct {
	Name   string `json:"name"`
	Base   string `json:"base"`             // http://127.0.0.1:P
	Config string `json:"config,omitempty"` // exact configuration, shown in the report
	// Pids returns the processes whose CPU and memory are the target's own cost
	// (empty for direct).
	Pids func() []int `json:"-"`
}

// procs starts and stops the processes of one run.
type procs struct {
	dir string
	mu  sync.Mutex
	all []*exec.Cmd
}

func (p *procs) start(name string, cmd *exec.Cmd) error {
	f, err := os.Create(filepath.Join(p.dir, name+".log"))
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", name, err)
	}
	p.mu.Lock()
	p.all = append(p.all, cmd)
	p.mu.Unlock()
	go func() { cmd.Wait(); f.Close() }()
	return nil
}

// stop ends one process group gracefully (SIGTERM, then SIGKILL after grace).
func stopCmd(cmd *exec.Cmd, grace time.Duration) {
	if cmd.Process == nil {
		return
	}
	pid := cmd.Process.Pid
	syscall.Kill(-pid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if syscall.Kill(pid, 0) != nil || cmd.ProcessState != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	syscall.Kill(-pid, syscall.SIGKILL)
}

func (p *procs) stopAll() {
	p.mu.Lock()
	all := p.all
	p.all = nil
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range all {
		wg.Add(1)
		go func() { defer wg.Done(); stopCmd(c, 15*time.Second) }()
	}
	wg.Wait()
}

// waitHTTP waits until url answers at all (any status).
func waitHTTP(url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	c := &http.Client{Timeout: 2 * time.Second}
	var last error
	for time.Now().Before(deadline) {
		resp, err := c.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return nil
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not answering after %s: %v", url, timeout, last)
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func writeFile(path, content string) error {
	return os.WriteFile(path, []byte(content), 0o600)
}

// pidsOf returns pid and its children (nginx: master and workers).
func pidsWithChildren(pid int) func() []int {
	return func() []int { return append([]int{pid}, proc.Children(pid)...) }
}

func pidsOnly(pids ...int) func() []int { return func() []int { return pids } }

// nginxConf is the configuration of both nginx targets; auth adds auth_request.
func nginxConf(listen, backend int, verifier int) string {
	authLoc, authReq := "", ""
	if verifier != 0 {
		authReq = "            auth_request /_auth;\n"
		authLoc = fmt.Sprintf(`        location = /_auth {
            internal;
            proxy_pass http://127.0.0.1:%d/auth;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
`, verifier)
	}
	return fmt.Sprintf(`worker_processes auto;
worker_rlimit_nofile 100000;
error_log stderr warn;
pid nginx.pid;
events {
    worker_connections 40000;
}
http {
    access_log off;
    client_body_temp_path tmp/body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;
    map $http_upgrade $connection_upgrade {
        default upgrade;
        ''      '';
    }
    upstream backend {
        server 127.0.0.1:%d;
        keepalive 256;
    }
    server {
        listen 127.0.0.1:%d;
%s        location / {
%s            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_buffering off;
            proxy_read_timeout 3600s;
        }
    }
}
`, backend, listen, authLoc, authReq)
}

// baselineName is the target of a codehub binary built from another revision
// (scripts/bench.sh with BENCH_BASELINE=<rev>): before/after in the same run.
const baselineName = "codehub-baseline"

type env struct {
	benchd, codehub, nginx, wrk, node, chp, caddy, oauth2Proxy, codeServer, chromium string
	codehubBaseline, baselineNote                                                    string
	work                                                                             string
	skipped                                                                          *[]string
}

// have reports whether a peer's program exists; a missing peer is skipped and reported.
func (e env) have(name, path string) bool {
	if _, err := exec.LookPath(path); err == nil {
		return true
	}
	*e.skipped = append(*e.skipped, fmt.Sprintf("%s: %q not found", name, path))
	progress("SKIPPING %s: %q not found", name, path)
	return false
}

// setup starts the backend, the verifier and every target; it returns the targets and
// the Cookie header that carries every target's session.
func setup(ctx context.Context, e env, p *procs) (backendURL string, targets []*Target, cookie string, err error) {
	bport, vport := freeport.Get(), freeport.Get()
	backendURL = fmt.Sprintf("http://127.0.0.1:%d", bport)
	if err = p.start("backend", exec.Command(e.benchd, "--bind-addr", fmt.Sprintf("127.0.0.1:%d", bport))); err != nil {
		return
	}
	token := "bench_session=" + randHex(24)
	vcmd := exec.Command(e.benchd, "--bind-addr", fmt.Sprintf("127.0.0.1:%d", vport), "--auth-cookie", token)
	if err = p.start("verifier", vcmd); err != nil {
		return
	}
	for _, u := range []string{backendURL + "/healthz", fmt.Sprintf("http://127.0.0.1:%d/healthz", vport)} {
		if err = waitHTTP(u, 20*time.Second); err != nil {
			return
		}
	}
	cookies := []string{token}
	add := func(t *Target) { targets = append(targets, t); progress("target %-20s %s", t.Name, t.Base) }

	add(&Target{Name: "direct", Base: backendURL, Config: "no proxy: the load generator talks to the Go backend itself", Pids: pidsOnly()})

	// Go floor.
	port := freeport.Get()
	gcmd := exec.Command(e.benchd, "--bind-addr", fmt.Sprintf("127.0.0.1:%d", port), "--proxy-to", backendURL)
	if err = p.start("go-floor", gcmd); err != nil {
		return
	}
	add(&Target{Name: "go-floor", Base: fmt.Sprintf("http://127.0.0.1:%d", port), Pids: pidsOnly(gcmd.Process.Pid),
		Config: "bench/cmd/benchd --proxy-to: httputil.ReverseProxy{Rewrite: SetURL + keep Host + SetXForwarded, FlushInterval: -1}, " +
			"Transport = DefaultTransport clone with MaxIdleConns(PerHost)=256, DisableCompression"})

	// nginx plain and nginx + auth_request.
	for _, withAuth := range []bool{false, true} {
		name, verifier := "nginx", 0
		if withAuth {
			name, verifier = "nginx+auth_request", vport
		}
		port := freeport.Get()
		dir := filepath.Join(e.work, name)
		os.MkdirAll(filepath.Join(dir, "tmp"), 0o755)
		conf := nginxConf(port, bport, verifier)
		if err = writeFile(filepath.Join(dir, "nginx.conf"), conf); err != nil {
			return
		}
		cmd := exec.Command(e.nginx, "-p", dir+"/", "-c", filepath.Join(dir, "nginx.conf"), "-g", "daemon off;")
		if err = p.start(name, cmd); err != nil {
			return
		}
		pids := pidsWithChildren(cmd.Process.Pid)
		if withAuth {
			inner := pids
			pids = func() []int { return append(inner(), vcmd.Process.Pid) }
		}
		add(&Target{Name: name, Base: fmt.Sprintf("http://127.0.0.1:%d", port), Pids: pids, Config: "nginx.conf:\n" + conf +
			map[bool]string{true: "\nverifier: bench/cmd/benchd --auth-cookie bench_session=<token> (its /auth answers 200 for that cookie, else 401); its CPU and RSS are counted with nginx's", false: ""}[withAuth]})
	}

	// configurable-http-proxy.
	if e.have("configurable-http-proxy", e.chp) {
		port := freeport.Get()
		api := freeport.Get()
		chpArgs := []string{e.chp, "--ip", "127.0.0.1", "--port", fmt.Sprint(port), "--api-ip", "127.0.0.1", "--api-port", fmt.Sprint(api),
			"--default-target", backendURL, "--log-level", "warn"}
		cmd := exec.Command(e.node, chpArgs...)
		cmd.Env = append(os.Environ(), "CONFIGPROXY_AUTH_TOKEN="+randHex(16))
		if err = p.start("chp", cmd); err != nil {
			return
		}
		add(&Target{Name: "configurable-http-proxy", Base: fmt.Sprintf("http://127.0.0.1:%d", port), Pids: pidsOnly(cmd.Process.Pid),
			Config: "node configurable-http-proxy " + strings.Join(chpArgs[1:], " ") + " (CONFIGPROXY_AUTH_TOKEN set; no routes but the default target)"})
	}

	// Caddy.
	if e.have("caddy", e.caddy) {
		port := freeport.Get()
		caddyfile := fmt.Sprintf("{\n\tadmin off\n\tauto_https off\n\tpersist_config off\n}\nhttp://127.0.0.1:%d {\n\treverse_proxy 127.0.0.1:%d\n}\n", port, bport)
		cf := filepath.Join(e.work, "Caddyfile")
		if err = writeFile(cf, caddyfile); err != nil {
			return
		}
		cmd := exec.Command(e.caddy, "run", "--config", cf, "--adapter", "caddyfile")
		cmd.Env = append(os.Environ(), "HOME="+e.work, "XDG_DATA_HOME="+filepath.Join(e.work, "caddy-data"), "XDG_CONFIG_HOME="+filepath.Join(e.work, "caddy-config"))
		if err = p.start("caddy", cmd); err != nil {
			return
		}
		add(&Target{Name: "caddy", Base: fmt.Sprintf("http://127.0.0.1:%d", port), Pids: pidsOnly(cmd.Process.Pid), Config: "Caddyfile:\n" + caddyfile})
	}

	// oauth2-proxy with the htpasswd form.
	var o2 *Target
	if e.have("oauth2-proxy", e.oauth2Proxy) {
		port := freeport.Get()
		hash, _ := bcrypt.GenerateFromPassword([]byte("bench-password"), bcrypt.MinCost)
		hp := filepath.Join(e.work, "htpasswd")
		if err = writeFile(hp, "bench:"+string(hash)+"\n"); err != nil {
			return
		}
		o2Args := []string{"--http-address", fmt.Sprintf("127.0.0.1:%d", port), "--upstream", backendURL + "/",
			"--htpasswd-file", hp, "--display-htpasswd-form=true", "--email-domain", "*",
			"--provider", "oidc", "--skip-oidc-discovery", "--oidc-issuer-url", "http://127.0.0.1:1/", "--login-url", "http://127.0.0.1:1/login",
			"--redeem-url", "http://127.0.0.1:1/token", "--oidc-jwks-url", "http://127.0.0.1:1/jwks",
			"--client-id", "bench", "--client-secret", "bench-secret",
			"--cookie-secret", randHex(16), "--cookie-secure=false", "--request-logging=false", "--standard-logging=false"}
		cmd := exec.Command(e.oauth2Proxy, o2Args...)
		if err = p.start("oauth2-proxy", cmd); err != nil {
			return
		}
		o2 = &Target{Name: "oauth2-proxy", Base: fmt.Sprintf("http://127.0.0.1:%d", port), Pids: pidsOnly(cmd.Process.Pid),
			Config: "oauth2-proxy " + strings.Join(o2Args, " ") + "\n(htpasswd file with user bench (bcrypt); the OIDC URLs are never contacted: sign-in is the htpasswd form; session in the encrypted cookie)"}
		add(o2)
	}

	// codehub with the local backend and benchd as the workspace; with a baseline binary
	// (another revision, built by scripts/bench.sh) a second instance sharing the session
	// key, so the same cookie signs in to both.
	keyFile := filepath.Join(e.work, "session.key")
	if err = writeFile(keyFile, randHex(32)+"\n"); err != nil {
		return
	}
	var chs []*Target
	for _, v := range []struct{ name, bin, note string }{
		{"codehub", e.codehub, ""},
		{baselineName, e.codehubBaseline, "\nBASELINE, not the gateway under test: " + filepath.Base(e.codehubBaseline) + " is codehub built by scripts/bench.sh from " + e.baselineNote},
	} {
		if v.bin == "" {
			continue
		}
		port := freeport.Get()
		state := filepath.Join(e.work, "state-"+strings.Fields(v.name)[0])
		if err = addUser(v.bin, state); err != nil {
			return
		}
		chArgs := []string{"serve", "--state-dir", state, "--code-server", e.benchd, "--listen", fmt.Sprintf("127.0.0.1:%d", port),
			"--idle-timeout", "0", "--metrics-listen", "", "--session-key-file", keyFile}
		cmd := exec.Command(v.bin, chArgs...)
		if err = p.start(strings.Fields(v.name)[0], cmd); err != nil {
			return
		}
		ch := &Target{Name: v.name, Base: fmt.Sprintf("http://127.0.0.1:%d", port), Pids: pidsOnly(cmd.Process.Pid),
			Config: filepath.Base(v.bin) + " " + strings.Join(chArgs, " ") + "\n(the workspace is bench/cmd/benchd started by the local backend as a code-server stand-in; CPU and RSS are the codehub process's own, not the workspace's)" + v.note}
		add(ch)
		chs = append(chs, ch)
	}
	ch := chs[0]

	for _, t := range targets {
		if err = waitHTTP(t.Base+"/healthz", 30*time.Second); err != nil {
			return
		}
	}
	c, err2 := codehubLogin(ch.Base)
	if err2 != nil {
		err = err2
		return
	}
	cookies = append(cookies, c)
	for _, t := range chs {
		if err = wakeUntilServed(ctx, t.Base, c, 60*time.Second, false); err != nil {
			return
		}
	}
	if o2 != nil {
		c, err = oauth2Login(o2.Base)
		if err != nil {
			return
		}
		cookies = append(cookies, c)
	}
	cookie = strings.Join(cookies, "; ")
	return
}

func addUser(codehub, state string) error {
	cmd := exec.Command(codehub, "users", "add", "bench", "--password-stdin", "--state-dir", state)
	cmd.Stdin = strings.NewReader("bench-password\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("codehub users add: %v: %s", err, out)
	}
	return nil
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// codehubLogin signs in through the form and returns "codehub_session=...".
func codehubLogin(base string) (string, error) {
	c := &http.Client{CheckRedirect: noRedirect, Timeout: 10 * time.Second}
	req, _ := http.NewRequest("POST", base+"/_codehub/login", strings.NewReader(url.Values{"username": {"bench"}, "password": {"bench-password"}, "next": {"/"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	for _, ck := range resp.Cookies() {
		if ck.Name == "codehub_session" && ck.Value != "" {
			return ck.Name + "=" + ck.Value, nil
		}
	}
	return "", fmt.Errorf("codehub login: status %d, no session cookie", resp.StatusCode)
}

// oauth2Login signs in with the htpasswd form and returns the session cookie(s).
func oauth2Login(base string) (string, error) {
	c := &http.Client{CheckRedirect: noRedirect, Timeout: 10 * time.Second}
	resp, err := c.PostForm(base+"/oauth2/sign_in", url.Values{"username": {"bench"}, "password": {"bench-password"}, "rd": {"/"}})
	if err != nil {
		return "", err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var parts []string
	for _, ck := range resp.Cookies() {
		if strings.HasPrefix(ck.Name, "_oauth2_proxy") && !strings.Contains(ck.Name, "csrf") && ck.Value != "" {
			parts = append(parts, ck.Name+"="+ck.Value)
		}
	}
	if len(parts) == 0 {
		return "", fmt.Errorf("oauth2-proxy sign-in: status %d, no session cookie: %.300s", resp.StatusCode, body)
	}
	return strings.Join(parts, "; "), nil
}

// wakeUntilServed opens / as a page visit until the workspace's answer arrives. With
// workbench, it follows code-server's redirect and wants the workbench HTML.
func wakeUntilServed(ctx context.Context, base, cookie string, timeout time.Duration, workbench bool) error {
	c := &http.Client{CheckRedirect: noRedirect, Timeout: 30 * time.Second}
	deadline := time.Now().Add(timeout)
	target := base + "/"
	for time.Now().Before(deadline) && ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, "GET", target, nil)
		req.Header.Set("Accept", "text/html")
		req.Header.Set("Cookie", cookie)
		resp, err := c.Do(req)
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusServiceUnavailable:
			time.Sleep(100 * time.Millisecond)
		case resp.StatusCode/100 == 3 && workbench:
			loc, err := resp.Location()
			if err != nil {
				return err
			}
			target = loc.String()
		case resp.StatusCode == http.StatusOK:
			if workbench && !strings.Contains(string(body), "workbench") {
				return fmt.Errorf("served page is not the workbench: %.200s", body)
			}
			return nil
		default:
			return fmt.Errorf("wake: GET %s: status %d: %.200s", target, resp.StatusCode, body)
		}
	}
	return errors.New("wake: timed out")
}
