// Command codehub-activity measures what a VS Code workbench sends through the gateway:
// an untouched open tab for 15 minutes, then typing, saving, clicking, terminal use and a
// busy job in the terminal. It runs the real gateway (local backend, real code-server)
// behind a recording proxy, drives a real headless Chromium, and counts every WebSocket
// message in each direction by VS Code protocol type (regular, control, ack, keep-alive,
// ...) and, for regular messages, by IPC channel/command or RPC method; plus HTTP requests
// and the workspace's CPU. The tables in docs/idle.md come from its output.
//
//	go build -o bin/ ./cmd/codehub ./cmd/codehub-init ./bench/cmd/codehub-activity
//	bin/codehub-activity --codehub bin/codehub --code-server "$CODEHUB_CODE_SERVER" \
//	    --chromium /usr/bin/chromium --out out/activity [--untouched 15m]
//
// Run it as root (workspaces then run as their own uid, as in production).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/codehub-dev/codehub/bench/internal/elapsed"

	"github.com/codehub-dev/codehub/bench/internal/freeport"
	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/procstat"
	"github.com/codehub-dev/codehub/internal/vsproto"
	"github.com/codehub-dev/codehub/internal/workbench"
)

var logf = elapsed.Logger("activity")

func main() {
	codehub := flag.String("codehub", "bin/codehub", "codehub binary (codehub-init beside it)")
	codeServer := flag.String("code-server", os.Getenv("CODEHUB_CODE_SERVER"), "code-server launcher")
	chromium := flag.String("chromium", envOr("CODEHUB_CHROMIUM", "/usr/bin/chromium"), "Chromium")
	out := flag.String("out", "out/activity", "directory for events.json, cpu.json and summary.md")
	untouched := flag.Duration("untouched", 15*time.Minute, "how long the tab stays untouched after loading")
	flag.Parse()
	if err := run(*codehub, *codeServer, *chromium, *out, *untouched); err != nil {
		fmt.Fprintln(os.Stderr, "codehub-activity:", err)
		os.Exit(1)
	}
}

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}

// event is one recorded message or request.
type event struct {
	T      float64 `json:"t"` // seconds since the workbench was visible
	Phase  string  `json:"phase"`
	Kind   string  `json:"kind"` // "ws" or "http"
	Conn   int     `json:"conn,omitempty"`
	CType  string  `json:"ctype,omitempty"`
	Dir    string  `json:"dir,omitempty"`
	Type   string  `json:"type,omitempty"`
	Name   string  `json:"name,omitempty"`
	Bytes  int     `json:"bytes"`
	Method string  `json:"method,omitempty"`
	Path   string  `json:"path,omitempty"`
	Fetch  string  `json:"fetch,omitempty"`
	Status int     `json:"status,omitempty"`
}

type recorder struct {
	mu     sync.Mutex
	phase  string
	zero   time.Time
	events []event
	conns  int
}

func (r *recorder) setPhase(p string) {
	r.mu.Lock()
	r.phase = p
	if p == "untouched" {
		r.zero = time.Now()
	}
	r.mu.Unlock()
	logf("phase %s", p)
}

func (r *recorder) add(e event) {
	r.mu.Lock()
	e.Phase = r.phase
	if !r.zero.IsZero() {
		e.T = time.Since(r.zero).Seconds()
	}
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// tapConn is the recording proxy's connection to the gateway, one request each
// (keep-alives off). For a WebSocket upgrade it follows both directions after the HTTP
// heads.
type tapConn struct {
	net.Conn
	rec  *recorder
	id   int
	vs   *vsproto.Conn
	up   headScanner // client→server: the request head, then frames
	down headScanner // server→client: the response head, then frames
	ws   bool
}

type headScanner struct {
	done bool
	buf  []byte
}

// scan returns the bytes after the head once it has ended.
func (h *headScanner) scan(p []byte) (head []byte, rest []byte, ended bool) {
	if h.done {
		return nil, p, true
	}
	h.buf = append(h.buf, p...)
	if i := bytes.Index(h.buf, []byte("\r\n\r\n")); i >= 0 {
		h.done = true
		head, rest = h.buf[:i+4], h.buf[i+4:]
		h.buf = nil
		return head, rest, true
	}
	return nil, nil, false
}

func (c *tapConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if n > 0 {
		head, rest, ended := c.up.scan(p[:n])
		if head != nil && bytes.Contains(bytes.ToLower(head), []byte("upgrade: websocket")) {
			c.ws = true
		}
		if ended && c.ws && len(rest) > 0 {
			c.feed(vsproto.ClientToServer, rest)
		}
	}
	return n, err
}

func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && c.ws {
		head, rest, ended := c.down.scan(p[:n])
		if head != nil && !bytes.HasPrefix(head, []byte("HTTP/1.1 101")) {
			c.ws = false
		}
		if ended && c.ws && len(rest) > 0 {
			c.feed(vsproto.ServerToClient, rest)
		}
	}
	return n, err
}

func (c *tapConn) feed(d vsproto.Direction, p []byte) {
	if c.vs == nil {
		c.rec.mu.Lock()
		c.rec.conns++
		c.id = c.rec.conns
		c.rec.mu.Unlock()
		c.vs = vsproto.NewConn(func(dir vsproto.Direction, ct vsproto.ConnType, m vsproto.Message) {
			c.rec.add(event{Kind: "ws", Conn: c.id, CType: ct.String(), Dir: dir.String(), Type: m.Type.String(),
				Name: vsproto.Describe(ct, m), Bytes: vsproto.HeaderLen + m.Len})
		})
	}
	if err := c.vs.Feed(d, p); err != nil && !errors.Is(err, vsproto.ErrLost) {
		logf("conn %d: %v", c.id, err)
	}
	if c.vs.Lost(d) {
		logf("conn %d: %s stream lost", c.id, d)
	}
}

func run(codehub, codeServer, chromium, out string, untouched time.Duration) error {
	if codeServer == "" {
		return errors.New("--code-server (or CODEHUB_CODE_SERVER) is required")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "codehub-activity-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if err := os.Chmod(work, 0o755); err != nil {
		return err
	}
	state := filepath.Join(work, "state")
	add := exec.Command(codehub, "users", "add", "alice", "--password-stdin", "--state-dir", state)
	add.Stdin = strings.NewReader("alice-password-123\n")
	if b, err := add.CombinedOutput(); err != nil {
		return fmt.Errorf("users add: %v %s", err, b)
	}
	folder := filepath.Join(state, "workspaces", identity.WorkspaceName("alice"), "home", "workspace")
	if err := os.MkdirAll(folder, 0o700); err != nil {
		return err
	}
	var lines strings.Builder
	for i := range 40 {
		fmt.Fprintf(&lines, "print('line %d')\n", i)
	}
	if err := os.WriteFile(filepath.Join(folder, "hello.py"), []byte(lines.String()), 0o600); err != nil {
		return err
	}

	gwPort, recPort := freeport.Get(), freeport.Get()
	gw := exec.Command(codehub, "serve", "--listen", "127.0.0.1:"+strconv.Itoa(gwPort), "--metrics-listen", "",
		"--state-dir", state, "--code-server", codeServer, "--idle-timeout", "0", "--reconnection-grace-time", "30s")
	gwLog, _ := os.Create(filepath.Join(out, "gateway.log"))
	defer gwLog.Close()
	gw.Stdout, gw.Stderr = gwLog, gwLog
	gw.Env = append(os.Environ(), "CODEHUB_CODE_SERVER=")
	if err := gw.Start(); err != nil {
		return err
	}
	defer func() {
		_ = gw.Process.Signal(syscall.SIGTERM)
		_ = gw.Wait()
	}()
	gwURL, _ := url.Parse("http://127.0.0.1:" + strconv.Itoa(gwPort))
	if err := workbench.Until(time.Minute, "gateway health", func() bool {
		resp, err := http.Get(gwURL.String() + "/_codehub/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}); err != nil {
		return err
	}

	rec := &recorder{phase: "load"}
	transport := &http.Transport{DisableKeepAlives: true, DisableCompression: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &tapConn{Conn: c, rec: rec}, nil
		}}
	proxy := &httputil.ReverseProxy{Transport: transport, Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(gwURL)
		pr.Out.Host = pr.In.Host
	}}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		proxy.ServeHTTP(sw, r)
		if r.Header.Get("Upgrade") == "" {
			rec.add(event{Kind: "http", Method: r.Method, Path: pathClass(r.URL.Path), Fetch: r.Header.Get("Sec-Fetch-Mode") + "/" + r.Header.Get("Sec-Fetch-Dest"),
				Status: sw.code, Bytes: sw.n})
		}
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(recPort))
	if err != nil {
		return err
	}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://127.0.0.1:" + strconv.Itoa(recPort)

	b, err := workbench.Launch(chromium, filepath.Join(work, "chromium"))
	if err != nil {
		return err
	}
	defer b.Close()
	if err := b.SignIn(base, "alice", "alice-password-123", 4*time.Minute); err != nil {
		b.Screenshot(filepath.Join(out, "failure.png"))
		return err
	}
	uid := workspaceUID(state)
	logf("workbench visible; workspace uid %d", uid)

	cpu := &cpuLog{uid: uid}
	stopCPU := cpu.start(rec, 10*time.Second)
	defer stopCPU()

	rec.setPhase("untouched")
	time.Sleep(untouched) // the measurement itself: nothing touches the tab

	steps := []struct {
		phase string
		run   func() error
	}{
		{"open-file", func() error { return b.OpenFile("hello.py") }},
		{"typing", func() error {
			if err := every(5*time.Second, 24, func(int) error { return b.TypeInEditor("x") }); err != nil {
				return err
			}
			if !strings.Contains(b.EditorText(), strings.Repeat("x", 24)) {
				return errors.New("the typed text is not in the editor")
			}
			return nil
		}},
		{"saving", func() error {
			return every(15*time.Second, 4, func(int) error {
				if err := b.TypeInEditor("y"); err != nil {
					return err
				}
				return b.Save()
			})
		}},
		{"clicking", func() error {
			return every(10*time.Second, 6, func(i int) error {
				return b.ClickEditorLine(i)
			})
		}},
		{"terminal-open", func() error { return b.OpenTerminal() }},
		{"terminal-typing", func() error {
			return every(10*time.Second, 12, func(i int) error { return b.TypeInTerminal("echo step " + strconv.Itoa(i)) })
		}},
		{"terminal-busy", func() error {
			if err := b.TypeInTerminal("timeout 90 sh -c 'while :; do :; done'"); err != nil {
				return err
			}
			time.Sleep(90 * time.Second) // observing the busy job; nothing touches the tab
			return nil
		}},
		{"untouched-after-use", func() error { time.Sleep(3 * time.Minute); return nil }}, // observation window
	}
	for _, s := range steps {
		rec.setPhase(s.phase)
		if err := s.run(); err != nil {
			b.Screenshot(filepath.Join(out, "failure-"+s.phase+".png"))
			logf("phase %s failed: %v", s.phase, err)
		}
	}
	rec.setPhase("end")
	stopCPU()
	b.Screenshot(filepath.Join(out, "end.png"))

	rec.mu.Lock()
	defer rec.mu.Unlock()
	if err := writeJSON(filepath.Join(out, "events.json"), rec.events); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(out, "cpu.json"), cpu.samples); err != nil {
		return err
	}
	summary := summarize(rec.events, cpu.samples, untouched)
	if err := os.WriteFile(filepath.Join(out, "summary.md"), []byte(summary), 0o644); err != nil {
		return err
	}
	fmt.Print(summary)
	return nil
}

// every runs f n times, period apart.
func every(period time.Duration, n int, f func(int) error) error {
	next := time.Now()
	for i := range n {
		if err := f(i); err != nil {
			return err
		}
		next = next.Add(period)
		time.Sleep(time.Until(next)) // the scenario's own pacing (a person typing), not synchronisation
	}
	return nil
}

type statusWriter struct {
	http.ResponseWriter
	code, n int
}

func (s *statusWriter) WriteHeader(c int) { s.code = c; s.ResponseWriter.WriteHeader(c) }
func (s *statusWriter) Write(p []byte) (int, error) {
	if s.code == 0 {
		s.code = 200
	}
	n, err := s.ResponseWriter.Write(p)
	s.n += n
	return n, err
}
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
func (s *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(s.ResponseWriter).Hijack()
}

func pathClass(p string) string {
	switch {
	case strings.HasPrefix(p, "/_codehub/"):
		return p
	case strings.Contains(p, "/static/"):
		return "static asset"
	case strings.HasPrefix(p, "/vscode-remote-resource"):
		return "/vscode-remote-resource"
	}
	if len(p) > 40 {
		p = p[:40] + "…"
	}
	return p
}

func workspaceUID(state string) int {
	var st syscall.Stat_t
	if syscall.Stat(filepath.Join(state, "workspaces", identity.WorkspaceName("alice"), "home"), &st) != nil {
		return -1
	}
	return int(st.Uid)
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

type cpuSample struct {
	T     float64 `json:"t"`
	Phase string  `json:"phase"`
	Cores float64 `json:"cores"`
	Procs int     `json:"procs"`
}

type cpuLog struct {
	uid     int
	mu      sync.Mutex
	samples []cpuSample
	stop    chan struct{}
	once    sync.Once
}

func (c *cpuLog) start(rec *recorder, every time.Duration) func() {
	c.stop = make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var m procstat.Meter
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			procs := procstat.OfUID(procstat.Scan(), c.uid)
			if cores, ok := m.Sample(procs, time.Now()); ok {
				rec.mu.Lock()
				s := cpuSample{Phase: rec.phase, Cores: cores, Procs: len(procs)}
				if !rec.zero.IsZero() {
					s.T = time.Since(rec.zero).Seconds()
				}
				rec.mu.Unlock()
				c.mu.Lock()
				c.samples = append(c.samples, s)
				c.mu.Unlock()
			}
			select {
			case <-c.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		c.once.Do(func() { close(c.stop); <-done })
	}
}

// summarize renders the tables: per phase × direction × connection × type, the regular
// messages by name, HTTP requests, and CPU.
func summarize(events []event, cpu []cpuSample, untouched time.Duration) string {
	var b strings.Builder
	phases := []string{}
	seen := map[string]bool{}
	for _, e := range events {
		if !seen[e.Phase] {
			seen[e.Phase] = true
			phases = append(phases, e.Phase)
		}
	}
	fmt.Fprintf(&b, "## WebSocket messages by phase (untouched = %s)\n\n", untouched)
	fmt.Fprintf(&b, "| phase | direction | connection | type | messages | bytes |\n|---|---|---|---|---:|---:|\n")
	type k4 struct{ p, d, c, t string }
	counts := map[k4][2]int{}
	for _, e := range events {
		if e.Kind != "ws" {
			continue
		}
		k := k4{e.Phase, e.Dir, e.CType, e.Type}
		v := counts[k]
		v[0]++
		v[1] += e.Bytes
		counts[k] = v
	}
	keys := slices.Collect(maps.Keys(counts))
	order := map[string]int{}
	for i, p := range phases {
		order[p] = i
	}
	sort.Slice(keys, func(i, j int) bool {
		a, c := keys[i], keys[j]
		if a.p != c.p {
			return order[a.p] < order[c.p]
		}
		if a.d != c.d {
			return a.d < c.d
		}
		if a.c != c.c {
			return a.c < c.c
		}
		return a.t < c.t
	})
	for _, k := range keys {
		v := counts[k]
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %d | %d |\n", k.p, k.d, k.c, k.t, v[0], v[1])
	}

	fmt.Fprintf(&b, "\n## Client→server regular messages by name\n\n| phase | connection | name | messages | first at (s) | times (s) |\n|---|---|---|---:|---:|---|\n")
	type k3 struct{ p, c, n string }
	byName := map[k3][]float64{}
	for _, e := range events {
		if e.Kind == "ws" && e.Dir == vsproto.ClientToServer.String() && e.Type == "regular" {
			k := k3{e.Phase, e.CType, e.Name}
			byName[k] = append(byName[k], e.T)
		}
	}
	nk := slices.Collect(maps.Keys(byName))
	sort.Slice(nk, func(i, j int) bool {
		if nk[i].p != nk[j].p {
			return order[nk[i].p] < order[nk[j].p]
		}
		if len(byName[nk[i]]) != len(byName[nk[j]]) {
			return len(byName[nk[i]]) > len(byName[nk[j]])
		}
		return nk[i].n < nk[j].n
	})
	for _, k := range nk {
		ts := byName[k]
		shown := []string{}
		for i, t := range ts {
			if i == 8 {
				shown = append(shown, "…")
				break
			}
			shown = append(shown, strconv.FormatFloat(t, 'f', 0, 64))
		}
		fmt.Fprintf(&b, "| %s | %s | `%s` | %d | %.0f | %s |\n", k.p, k.c, k.n, len(ts), ts[0], strings.Join(shown, " "))
	}

	fmt.Fprintf(&b, "\n## Server→client regular messages by name (top 12 per phase)\n\n| phase | connection | name | messages | bytes |\n|---|---|---|---:|---:|\n")
	type agg struct{ n, bytes int }
	sc := map[k3]agg{}
	for _, e := range events {
		if e.Kind == "ws" && e.Dir == vsproto.ServerToClient.String() && e.Type == "regular" {
			k := k3{e.Phase, e.CType, e.Name}
			a := sc[k]
			a.n++
			a.bytes += e.Bytes
			sc[k] = a
		}
	}
	perPhase := map[string][]k3{}
	for k := range sc {
		perPhase[k.p] = append(perPhase[k.p], k)
	}
	for _, p := range phases {
		ks := perPhase[p]
		sort.Slice(ks, func(i, j int) bool { return sc[ks[i]].n > sc[ks[j]].n })
		if len(ks) > 12 {
			ks = ks[:12]
		}
		for _, k := range ks {
			fmt.Fprintf(&b, "| %s | %s | `%s` | %d | %d |\n", k.p, k.c, k.n, sc[k].n, sc[k].bytes)
		}
	}

	fmt.Fprintf(&b, "\n## HTTP requests (not upgrades)\n\n| phase | method | path | Sec-Fetch mode/dest | requests |\n|---|---|---|---|---:|\n")
	type kh struct{ p, m, path, f string }
	hc := map[kh]int{}
	for _, e := range events {
		if e.Kind == "http" {
			hc[kh{e.Phase, e.Method, e.Path, e.Fetch}]++
		}
	}
	hk := slices.Collect(maps.Keys(hc))
	sort.Slice(hk, func(i, j int) bool {
		if hk[i].p != hk[j].p {
			return order[hk[i].p] < order[hk[j].p]
		}
		return hc[hk[i]] > hc[hk[j]]
	})
	for _, k := range hk {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %d |\n", k.p, k.m, k.path, k.f, hc[k])
	}

	fmt.Fprintf(&b, "\n## Workspace CPU (all processes of its uid, 10 s samples)\n\n| phase | samples | mean cores | max cores |\n|---|---:|---:|---:|\n")
	type cs struct {
		n         int
		sum, peak float64
	}
	cpuBy := map[string]*cs{}
	var cpuPhases []string
	for _, s := range cpu {
		c := cpuBy[s.Phase]
		if c == nil {
			c = &cs{}
			cpuBy[s.Phase] = c
			cpuPhases = append(cpuPhases, s.Phase)
		}
		c.n++
		c.sum += s.Cores
		if s.Cores > c.peak {
			c.peak = s.Cores
		}
	}
	for _, p := range cpuPhases {
		c := cpuBy[p]
		fmt.Fprintf(&b, "| %s | %d | %.3f | %.3f |\n", p, c.n, c.sum/float64(c.n), c.peak)
	}
	return b.String()
}
