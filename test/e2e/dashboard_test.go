package e2e

import (
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/codehub-dev/codehub/internal/testkit"
	"github.com/codehub-dev/codehub/internal/workbench"
)

// The home and admin pages in a real Chromium against the real gateway (local backend,
// real code-server): sign in, create a workspace from a profile, open it, stop it, mint and
// revoke a token; an admin stops another user's workspace (her open tab is told at once),
// then deletes that user (his open tab ends: signed out). Every page passes the
// accessibility check (a11y_test.go); screenshots go to $CODEHUB_ARTIFACTS (default: the
// test's temporary directory) and their paths are logged.

// artifacts is where the screenshots go.
func artifacts(t *testing.T) string {
	dir := os.Getenv("CODEHUB_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	dir = filepath.Join(dir, t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

type pageBrowser struct {
	*workbench.Browser
	t    *testing.T
	base string
	dir  string
	who  string
}

func launchPages(t *testing.T, g *gateway, dir, who string) *pageBrowser {
	t.Helper()
	b, err := workbench.Launch(testkit.Chromium(t), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p := &pageBrowser{Browser: b, t: t, base: g.URL, dir: dir, who: who}
	t.Cleanup(func() {
		if t.Failed() {
			p.shot("failure")
		}
		b.Close()
	})
	return p
}

// shot saves a screenshot of the page as <who>-<name>.png and logs its path.
func (p *pageBrowser) shot(name string) {
	if path := p.Screenshot(filepath.Join(p.dir, p.who+"-"+name+".png")); path != "" {
		p.t.Logf("screenshot: %s", path)
	}
}

// signIn fills the sign-in form, which goes on to next.
func (p *pageBrowser) signIn(user, password, next string) {
	p.t.Helper()
	if err := p.Do(time.Minute, chromedp.Navigate(p.base+"/_codehub/login?next="+url.QueryEscape(next)), chromedp.WaitVisible(chromedp.CSS("#username"))); err != nil {
		p.t.Fatalf("sign-in page: %v", err)
	}
	checkAccessibility(p.t, p.Browser, "the sign-in page")
	if err := p.Do(time.Minute, chromedp.SendKeys(chromedp.CSS("#username"), user), chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("button[type=submit]"))); err != nil {
		p.t.Fatalf("sign in as %s: %v", user, err)
	}
}

// click clicks sel and waits until the page (the next one) contains text.
func (p *pageBrowser) click(sel, text string) {
	p.t.Helper()
	if err := p.Do(30*time.Second, chromedp.Click(chromedp.CSS(sel))); err != nil {
		p.t.Fatalf("%s: click %s: %v\n%s", p.who, sel, err, p.Text())
	}
	p.waitText(text)
}

func (p *pageBrowser) waitText(text string) {
	p.t.Helper()
	if err := workbench.Until(time.Minute, p.who+"'s page to say "+text, func() bool { return strings.Contains(p.Text(), text) }); err != nil {
		p.t.Fatalf("%v; the page says:\n%s", err, p.Text())
	}
}

func (p *pageBrowser) open(path, text string) {
	p.t.Helper()
	if err := p.Do(time.Minute, chromedp.Navigate(p.base+path)); err != nil {
		p.t.Fatalf("open %s: %v", path, err)
	}
	p.waitText(text)
}

// waitExtension waits for the codehub extension's status bar item: the workbench's
// connections (the extension host's too) are up, so a stop or sign-out reaches them as
// reconnects of an open tab.
func (p *pageBrowser) waitExtension() {
	p.t.Helper()
	if err := workbench.Until(2*time.Minute, "the codehub status bar item of "+p.who, func() bool {
		return strings.Contains(p.StatusBarItem("codehub.status"), p.who)
	}); err != nil {
		p.t.Fatalf("%v:\n%s", err, p.Text())
	}
}

// sockets follows the WebSockets of a tab (CDP network events): which are open now.
type sockets struct {
	mu   sync.Mutex
	open map[network.RequestID]string
}

func watchSockets(t *testing.T, p *pageBrowser) *sockets {
	s := &sockets{open: map[network.RequestID]string{}}
	if err := chromedp.Listen(p.Ctx, func(ev any) {
		s.mu.Lock()
		defer s.mu.Unlock()
		switch e := ev.(type) {
		case *network.EventWebSocketCreated:
			s.open[e.RequestID] = e.URL
		case *network.EventWebSocketClosed:
			delete(s.open, e.RequestID)
		}
	}); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *sockets) now() map[network.RequestID]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.open)
}

// tabEnds does act and checks that every WebSocket the workbench had open then is closed
// by the gateway (the tab's connections end); VS Code's own "Cannot reconnect" dialog,
// which it shows on the reconnect the gateway refuses, is waited for briefly and reported.
func (s *sockets) tabEnds(t *testing.T, p *pageBrowser, what string, act func()) (dialog bool) {
	t.Helper()
	before := s.now()
	if len(before) == 0 {
		t.Fatalf("%s: %s's workbench has no WebSocket open (the check would prove nothing)", what, p.who)
	}
	act()
	if err := workbench.Until(time.Minute, what+": "+p.who+"'s WebSockets to close", func() bool {
		now := s.now()
		for id := range before {
			if _, open := now[id]; open {
				return false
			}
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	dialog = workbench.Until(30*time.Second, what+": the reload dialog", func() bool { return strings.Contains(p.Dialog(), "Cannot reconnect") }) == nil
	t.Logf("%s: the %d WebSockets of %s's tab were closed; VS Code showed its reload dialog: %v", what, len(before), p.who, dialog)
	return dialog
}

// cell is the text of a table cell of the row of user (class or column index given by sel).
func (p *pageBrowser) state(table, user string) string {
	s, _ := p.Eval(`(() => { const r = document.querySelector('#` + table + ` tr[data-user="` + user + `"] .state'); return r ? r.innerText : "" })()`)
	return s
}

func TestBrowserHomeAndAdminPages(t *testing.T) {
	state := testkit.TraversableTempDir(t)
	addUser(t, state, "root", "root-password", true)
	addUser(t, state, "alice", "alice-password", false)
	addUser(t, state, "bob", "bob-password", false)
	profiles := filepath.Join(t.TempDir(), "profiles.yaml")
	os.WriteFile(profiles, []byte("profiles:\n- name: standard\n  description: Everyday work\n  default: true\n- name: long\n  description: Stops after 4 h idle\n  idleTimeout: 4h\n"), 0o644)
	g := startGateway(t, state, "--idle-timeout", "0", "--profiles", profiles)
	dir := artifacts(t)

	// alice: no workspace yet; the home page offers to create one from a profile.
	alice := launchPages(t, g, dir, "alice")
	alice.signIn("alice", "alice-password", "/_codehub/")
	alice.waitText("Create your workspace")
	checkAccessibility(t, alice.Browser, "the home page without a workspace")
	alice.shot("home-create")
	chosen := "standard"
	if ok, _ := alice.Eval(`document.querySelector('select#profile') ? "yes" : ""`); ok == "yes" {
		// The backend applies profiles (backend.ProfileSetter): take the other one.
		chosen = "long"
		if err := alice.Do(10*time.Second, chromedp.SetValue(chromedp.CSS("select#profile"), chosen)); err != nil {
			t.Fatal(err)
		}
	} else if !strings.Contains(alice.Text(), "not supported by this backend") {
		t.Fatalf("two profiles, no choice and no word why:\n%s", alice.Text())
	} else {
		t.Logf("this backend applies no profiles (no backend.ProfileSetter): the page says so and creates with the default")
	}
	if err := alice.Do(30*time.Second, chromedp.Click(chromedp.CSS(`#create button[type=submit]`))); err != nil {
		t.Fatal(err)
	}
	if err := alice.WaitWorkbench(4 * time.Minute); err != nil {
		t.Fatalf("create and open: %v\n%s", err, alice.Text())
	}
	alice.shot("workbench")

	alice.open("/_codehub/", "Running")
	if s := alice.Text(); !strings.Contains(s, chosen) || !strings.Contains(s, "Open VS Code") {
		t.Fatalf("the home page of a running workspace:\n%s", s)
	}
	checkAccessibility(t, alice.Browser, "the home page")
	alice.shot("home-running")
	// Open it from the home page.
	if err := alice.Do(30*time.Second, chromedp.Click(chromedp.CSS("#open"))); err != nil {
		t.Fatal(err)
	}
	if err := alice.WaitWorkbench(2 * time.Minute); err != nil {
		t.Fatal(err)
	}

	// A token: shown once, works, then revoked from the page.
	alice.open("/_codehub/", "API tokens")
	if err := alice.Do(20*time.Second, chromedp.SendKeys(chromedp.CSS("#token-name"), "laptop")); err != nil {
		t.Fatal(err)
	}
	alice.click(`#mint button[type=submit]`, "not shown again")
	secret, _ := alice.Eval(`document.getElementById('token-secret').innerText.trim()`)
	if !strings.HasPrefix(secret, "chub_") {
		t.Fatalf("the new token %q", secret)
	}
	checkAccessibility(t, alice.Browser, "the home page with a new token")
	alice.shot("token-minted")
	if code := tokenStatus(t, g, secret); code != http.StatusOK {
		t.Fatalf("the minted token: %d", code)
	}
	alice.open("/_codehub/", "laptop")
	if strings.Contains(alice.Text(), secret) {
		t.Fatal("the token's secret is shown again")
	}
	alice.click(`button[aria-label="Revoke token laptop"]`, "The token was revoked.")
	if code := tokenStatus(t, g, secret); code != http.StatusUnauthorized {
		t.Fatalf("the revoked token: %d", code)
	}

	// Stop from the home page.
	alice.click("#stop", "Your workspace is stopping")
	eventually(t, time.Minute, "alice's workspace to stop", func() bool {
		alice.open("/_codehub/", "Your workspace")
		return strings.HasPrefix(alice.state("workspaces", "alice"), "Stopped")
	})
	alice.shot("home-stopped")
	// Sign out: the home page's button, and the sign-out page the codehub extension opens.
	alice.click("#sign-out", "You have signed out")
	alice.signIn("alice", "alice-password", "/_codehub/")
	alice.waitText("API tokens")
	alice.open("/_codehub/logout", "Signed in as alice")
	checkAccessibility(t, alice.Browser, "the sign-out page")
	alice.click(`button[type=submit]`, "You have signed out")
	alice.open("/_codehub/", "Sign in to codehub") // the session is gone: the home page asks to sign in

	// bob works in his workspace; the admin stops it, and bob's open tab is told at once.
	bob := launchPages(t, g, dir, "bob")
	bobSockets := watchSockets(t, bob)
	// His first visit: with two profiles (and a backend that applies them) the gateway asks
	// which one first, the default preselected.
	bob.signIn("bob", "bob-password", "/")
	bob.waitText("Create your workspace")
	if err := bob.Do(30*time.Second, chromedp.Click(chromedp.CSS(`#create button[type=submit]`))); err != nil {
		t.Fatal(err)
	}
	if err := bob.WaitWorkbench(4 * time.Minute); err != nil {
		t.Fatalf("bob's first workspace: %v\n%s", err, bob.Text())
	}
	bob.waitExtension()
	root := launchPages(t, g, dir, "root")
	root.signIn("root", "root-password", "/_codehub/admin")
	root.waitText("codehub admin")
	if s := root.state("workspaces", "bob"); !strings.HasPrefix(s, "Running") {
		t.Fatalf("the admin page shows bob's workspace as %q:\n%s", s, root.Text())
	}
	checkAccessibility(t, root.Browser, "the admin page")
	root.shot("admin")
	dialog := bobSockets.tabEnds(t, bob, "the admin stops bob's workspace", func() {
		root.click(`button[aria-label="Stop bob's workspace"]`, "The workspace is stopping")
	})
	bob.shot("stopped-by-admin")
	eventually(t, time.Minute, "the admin page to show bob's workspace stopped", func() bool {
		root.open("/_codehub/admin", "codehub admin")
		return strings.HasPrefix(root.state("workspaces", "bob"), "Stopped")
	})

	// bob reloads (his workspace starts again); the admin deletes him: his tab ends.
	bob.reload(dialog)
	if err := bob.WaitWorkbench(4 * time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := workbench.Until(time.Minute, "bob's reloaded workbench without the dialog", func() bool { return bob.Dialog() == "" }); err != nil {
		t.Fatal(err)
	}
	bob.waitExtension()
	root.open("/_codehub/admin", "Local users")
	root.click(`button[aria-label="Delete the user bob"]`, "Delete the user bob?")
	checkAccessibility(t, root.Browser, "the confirmation page")
	root.shot("confirm-delete-user")
	dialog = bobSockets.tabEnds(t, bob, "the admin deletes bob", func() { root.click("#confirm", "The user was deleted") })
	bob.shot("deleted-by-admin")
	bob.reload(dialog)
	if err := workbench.Until(time.Minute, "bob's reload to end at the sign-in page", func() bool {
		p, _ := bob.Eval(`location.pathname`)
		return p == "/_codehub/login"
	}); err != nil {
		t.Fatal(err)
	}
	root.open("/_codehub/admin", "Recent events")
	if s := root.Text(); !strings.Contains(s, "user.delete") || !strings.Contains(s, "workspace.stop") {
		t.Fatalf("the recent events lack the admin's actions:\n%s", s)
	}
	root.shot("admin-events")
	for _, want := range []string{`msg=audit actor=root action=user.delete outcome=ok target_user=bob`, `msg=audit actor=alice action=token.create`} {
		if !strings.Contains(g.Stderr.String(), want) {
			t.Errorf("the gateway's log lacks %q", want)
		}
	}
}

// reload reloads the tab: with VS Code's dialog's Reload Window when it showed one.
func (p *pageBrowser) reload(dialog bool) {
	p.t.Helper()
	var err error
	if dialog {
		err = p.ClickDialogButton("Reload Window")
	} else {
		err = p.Do(30*time.Second, chromedp.Reload())
	}
	if err != nil {
		p.t.Fatalf("reload %s's tab: %v", p.who, err)
	}
}

// tokenStatus is the API's answer to a token.
func tokenStatus(t *testing.T, g *gateway, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", g.URL+"/_codehub/api/v1/workspace", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
