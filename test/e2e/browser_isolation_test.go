package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/codehub-dev/codehub/internal/workbench"

	"github.com/chromedp/chromedp"

	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/testkit"
)

// TestBrowserAppsNeverRunWithTheGatewaySession is row 5 of issue #11 in a real Chromium:
// alice runs an app whose page tries to mint an API token with the visitor's session.
// Bob following a link to it (through code-server's /proxy/<port>/ or its port origin)
// never runs it; a page alice leaves on shared storage opens sandboxed in bob's workspace;
// and even alice's own app, on its own origin, cannot use her session.
func TestBrowserAppsNeverRunWithTheGatewaySession(t *testing.T) {
	chromium := testkit.Chromium(t)
	state := stateWithUsers(t, "alice", "bob")
	g := startGateway(t, state, "--idle-timeout", "0")
	for _, u := range []string{"alice", "bob"} {
		b := newBrowser(t, g.URL)
		b.login(t, u, u+"-password")
		b.openWorkbench(t)
	}
	aliceUID := uidOf(t, state, "alice")
	// The page mints a token on the gateway's main origin if it can; its title says it ran.
	evil := fmt.Sprintf(`<title>app</title><script>
fetch(%q, {method: "POST", credentials: "include", headers: {"Content-Type": "application/json"}, body: '{"name":"pwned"}'})
  .then(r => { document.title = "attempt:" + r.status }, () => { document.title = "attempt:blocked" });
</script><p id="app">alice's app</p>`, g.URL+"/_codehub/api/v1/tokens")
	app := appAs(t, aliceUID, evil)
	shared := filepath.Join(os.TempDir(), fmt.Sprintf("shared-%d", time.Now().UnixNano()))
	if out, err := pyAs(t, aliceUID, fmt.Sprintf("import os\nos.makedirs(%q, 0o755)\nopen(%q, 'w').write(%q)\nos.chmod(%q, 0o644)", shared, shared+"/evil.html", evil, shared+"/evil.html")); err != nil {
		t.Fatalf("alice writes a page on shared storage: %v %s", err, out)
	}
	t.Cleanup(func() { os.RemoveAll(shared) })

	outDir := filepath.Join(testkit.RepoRoot(t), "out", "e2e")
	os.MkdirAll(outDir, 0o755)
	session := func(user string) (context.Context, func()) {
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), workbench.ChromiumOptions(chromium, t.TempDir())...)
		ctx, cancel := chromedp.NewContext(alloc)
		ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
		if err := chromedp.Do(ctx, chromedp.Navigate(g.URL+"/_codehub/login"), chromedp.WaitVisible(chromedp.CSS("#username")),
			chromedp.SendKeys(chromedp.CSS("#username"), user), chromedp.SendKeys(chromedp.CSS("#password"), user+"-password"),
			chromedp.Click(chromedp.CSS("button[type=submit]")), chromedp.WaitVisible(chromedp.CSS(".monaco-workbench"))); err != nil {
			t.Fatalf("%s signs in: %v", user, err)
		}
		return ctx, func() { cancelT(); cancel(); cancelAlloc() }
	}
	visit := func(ctx context.Context, name, u string) (title, text string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(u), chromedp.WaitReady(chromedp.CSS("body"))); err != nil {
			t.Fatalf("navigate %s: %v", u, err)
		}
		text, _ = chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		// Give a page's script its chance to run (bounded: the attempt is one request).
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			title, _ = chromedp.Run(ctx, chromedp.Evaluate[string](`document.title`))
			if strings.HasPrefix(title, "attempt:") {
				break
			}
			time.Sleep(200 * time.Millisecond) // observation window: waiting for a script that must not run
		}
		if later, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`)); later != "" {
			text = later
		}
		if buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
			os.WriteFile(filepath.Join(outDir, "isolation-"+name+".png"), buf, 0o644)
		}
		return title, text
	}

	bob, done := session("bob")
	for _, c := range []struct{ name, url string }{
		{"bob-proxy-path", fmt.Sprintf("%s/proxy/%d/", g.URL, app)},
		{"bob-alice-port-origin", portOrigin(g, identity.WorkspaceName("alice"), app) + "/"},
		{"bob-remote-resource", g.URL + "/vscode-remote-resource?path=" + shared + "/evil.html"},
	} {
		title, text := visit(bob, c.name, c.url)
		if strings.HasPrefix(title, "attempt:") {
			t.Errorf("%s: alice's script ran in bob's browser (title %q)", c.name, title)
		}
		// The port origin's sign-in names its workspace, so the main host refuses bob a
		// handoff to alice's port origin outright; his own /proxy/<port>/ finds nothing of his.
		want := map[string]string{"bob-proxy-path": "Nothing of yours answers", "bob-alice-port-origin": "That workspace is not yours"}[c.name]
		if want != "" && !strings.Contains(text, want) {
			t.Errorf("%s: want the refusal page (%q), got %q", c.name, want, text)
		}
	}
	done()

	alice, done := session("alice")
	defer done()
	title, text := visit(alice, "alice-own-app", portOrigin(g, identity.WorkspaceName("alice"), app)+"/")
	if !strings.Contains(text, "alice's app") || !strings.HasPrefix(title, "attempt:") {
		t.Fatalf("control: alice's own app should load and its script run on its origin: title %q text %q", title, text)
	}
	if title == "attempt:201" {
		t.Errorf("alice's app minted a token with her session from its own origin")
	}
	tokens, _ := os.ReadFile(filepath.Join(state, "tokens.json"))
	if strings.Contains(string(tokens), "pwned") {
		t.Fatalf("a token was minted by an app page: %s", tokens)
	}
	t.Logf("alice's app on its own origin: %s (screenshots in %s)", title, outDir)
}
