package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/codehub-dev/codehub/internal/workbench"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/testkit"
	"github.com/codehub-dev/codehub/internal/workspacebuild"
)

// TestPodCodeServerChildrenEnv opens the workbench of the pod-started code-server in a real
// Chromium, through a proxy that presents the credential as the gateway does (the browser
// never has it), opens an integrated terminal, and then reads the environment of every
// process code-server runs (its server process, extension host, pty host, the terminal's
// shell): none holds the credential. The workbench connecting over its WebSocket also
// shows the credential-bearing hop works end to end.
func TestPodCodeServerChildrenEnv(t *testing.T) {
	chromium := testkit.Chromium(t)
	p := startPodCodeServer(t, workspacebuild.DefaultOptions())

	target, err := url.Parse(p.base)
	must(t, err)
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Host = r.In.Host // code-server checks a WebSocket's Origin against Host
		r.Out.Header.Del("Cookie")
		r.Out.AddCookie(&http.Cookie{Name: backend.CodeServerCookie, Value: p.credential})
	}}
	proxy := httptest.NewServer(rp)
	t.Cleanup(proxy.Close)

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), workbench.ChromiumOptions(chromium, t.TempDir())...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	outDir := filepath.Join(testkit.RepoRoot(t), "out", "pod-browser")
	defer func() {
		if !t.Failed() {
			return
		}
		shotCtx, cancelShot := context.WithTimeout(ctx, 20*time.Second)
		defer cancelShot()
		if buf, err := chromedp.Run(shotCtx, chromedp.CaptureScreenshot()); err == nil && os.MkdirAll(outDir, 0o755) == nil {
			path := filepath.Join(outDir, "failure.png")
			if os.WriteFile(path, buf, 0o644) == nil {
				t.Logf("screenshot: %s", path)
			}
		}
		t.Logf("code-server log:\n%s", p.logs.String())
	}()
	step := func(what string, within time.Duration, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, within)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// The first Run starts the browser; it must not carry a timeout (see chromedp.Run).
	must(t, chromedp.Do(ctx, chromedp.Navigate("about:blank")))
	step("workbench loads through the credential-presenting proxy", 3*time.Minute,
		chromedp.Navigate(proxy.URL+"/?folder=/home/codehub"),
		chromedp.WaitVisible(chromedp.CSS(".monaco-workbench")),
	)

	// A terminal: F1, "Create New Terminal", Enter; then wait for its shell process.
	shell := func() (int, error) {
		for _, pid := range descendants(p.pid) {
			if cl := cmdlineOf(pid); strings.HasSuffix(cl, "bash") || strings.HasSuffix(cl, "/sh") || strings.Contains(cl, "bash --") {
				return pid, nil
			}
		}
		return 0, fmt.Errorf("no shell below code-server yet: %q", p.checkChildrenEnvQuiet())
	}
	deadline := time.Now().Add(3 * time.Minute)
	var shellPID int
	for attempt := 0; ; attempt++ {
		if pid, err := shell(); err == nil {
			shellPID = pid
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("terminal: %v", err)
		}
		if attempt%100 == 0 { // every ~10 s: (re)issue the command, the workbench may still be busy
			step("open the command palette", time.Minute, chromedp.KeyEvent(kb.F1),
				chromedp.WaitVisible(chromedp.CSS(".quick-input-widget input")))
			step("create a terminal", time.Minute,
				chromedp.SendKeys(chromedp.CSS(".quick-input-widget input"), "Terminal: Create New Terminal"),
				chromedp.KeyEvent(kb.Enter))
		}
		time.Sleep(100 * time.Millisecond) // polling /proc for the shell, bounded by the deadline
	}

	var extensionHost bool
	ctrlDeadline := time.Now().Add(2 * time.Minute)
	for !extensionHost {
		for _, pid := range descendants(p.pid) {
			extensionHost = extensionHost || strings.Contains(cmdlineOf(pid), "extensionHost")
		}
		if !extensionHost && time.Now().After(ctrlDeadline) {
			t.Fatalf("no extension host below code-server: %q", p.checkChildrenEnvQuiet())
		}
		time.Sleep(100 * time.Millisecond) // polling /proc, bounded by the deadline
	}

	procs := p.checkChildrenEnv(t)
	t.Logf("shell %d (%s); processes below code-server: %q", shellPID, cmdlineOf(shellPID), procs)
	// What the credential does not protect against: code-server's first process keeps its
	// initial environment (Linux never rewrites /proc/<pid>/environ), so the workspace's own
	// user, running as the same uid, can read it there. It only opens this same workspace.
	for _, kv := range environ(t, p.pid) {
		if strings.HasPrefix(kv, workspacebuild.EnvCredential+"=") {
			t.Logf("pid %d (code-server's first process, the wrapper that forks its server: %s) still shows %s in /proc/%d/environ", p.pid, cmdlineOf(p.pid), workspacebuild.EnvCredential, p.pid)
		}
	}
}

// checkChildrenEnvQuiet lists the descendants' command lines (for error messages).
func (p *podCodeServer) checkChildrenEnvQuiet() []string {
	var out []string
	for _, pid := range descendants(p.pid) {
		out = append(out, strconv.Itoa(pid)+": "+cmdlineOf(pid))
	}
	return out
}
