package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/workbench"
)

// TestBrowserNamedWorkspace: in a real Chromium against the real gateway (local backend,
// real code-server), alice with a default workspace creates a named one from a profile on
// the home page, works in it (a file saved there lands in its own home, not the default's),
// stops it from the home page (the admin page lists it) and deletes it; every page passes the accessibility check and the
// screenshots go to $CODEHUB_ARTIFACTS.
func TestBrowserNamedWorkspace(t *testing.T) {
	state := stateWithUsers(t, "alice")
	addUser(t, state, "root", "root-password", true)
	profiles := filepath.Join(t.TempDir(), "profiles.yaml")
	os.WriteFile(profiles, []byte("profiles:\n- name: standard\n  description: Everyday work\n  default: true\n- name: long\n  description: Stops after 4 h idle\n  idleTimeout: 4h\n"), 0o644)
	g := startGateway(t, state, "--idle-timeout", "0", "--profiles", profiles)
	dir := artifacts(t)
	defaultHome := filepath.Join(state, "workspaces", identity.WorkspaceName("alice"), "home", "workspace")
	mlHome := filepath.Join(state, "workspaces", identity.NamedWorkspaceName("alice", "ml"), "home", "workspace")

	alice := launchPages(t, g, dir, "alice")
	leaveOnBeforeUnload(t, alice)
	alice.signIn("alice", "alice-password", "/_codehub/")
	alice.waitText("Create your workspace")
	if err := alice.Do(30*time.Second, chromedp.Click(chromedp.CSS(`#create button[type=submit]`))); err != nil {
		t.Fatal(err)
	}
	if err := alice.WaitWorkbench(4 * time.Minute); err != nil {
		t.Fatalf("the default workspace: %v\n%s", err, alice.Text())
	}

	// The home page offers a named workspace from a profile.
	alice.open("/_codehub/", "Create a named workspace")
	checkAccessibility(t, alice.Browser, "the home page with the named-workspace form")
	alice.shot("home-named-form")
	if err := alice.Do(20*time.Second, chromedp.SendKeys(chromedp.CSS("#named-name"), "ml"),
		chromedp.SetValue(chromedp.CSS("select#named-profile"), "long"),
		chromedp.Click(chromedp.CSS("#create-named-submit"))); err != nil {
		t.Fatalf("the create form: %v\n%s", err, alice.Text())
	}
	if err := alice.WaitWorkbench(4 * time.Minute); err != nil {
		t.Fatalf("create and open ml: %v\n%s", err, alice.Text())
	}
	if p, _ := alice.Eval(`location.pathname`); p != "/w/ml/" {
		t.Fatalf("the named workspace opened at %q, want /w/ml/", p)
	}
	alice.shot("named-workbench")

	// A file saved in ml lands in ml's home only.
	file := filepath.Join(mlHome, "notes.txt")
	if err := os.WriteFile(file, []byte("first line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ownLike(t, file, mlHome)
	// A fresh workbench lists the folder as it is now (the explorer of the open one learns of
	// a file made behind its back only from the file watcher, which may miss it under load).
	if err := alice.Do(time.Minute, chromedp.Navigate(g.URL+"/w/ml/")); err != nil {
		t.Fatal(err)
	}
	if err := alice.WaitWorkbench(2 * time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := alice.OpenFile("notes.txt"); err != nil {
		t.Fatalf("%v\n%s", err, alice.Text())
	}
	eventually(t, time.Minute, "notes.txt shown in the editor", func() bool { return strings.Contains(alice.EditorText(), "first line") })
	if err := alice.TypeInEditor("saved in ml "); err != nil {
		t.Fatal(err)
	}
	if err := alice.Save(); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "the edit saved to ml's home", func() bool {
		b, _ := os.ReadFile(file)
		return strings.Contains(string(b), "saved in ml")
	})
	if _, err := os.Stat(filepath.Join(defaultHome, "notes.txt")); !os.IsNotExist(err) {
		t.Fatalf("notes.txt in the default workspace's home: %v", err)
	}
	alice.shot("named-saved")

	// The home page lists both; stop ml from there, the default one runs on.
	alice.open("/_codehub/", "Open VS Code")
	if s := namedState(alice, "ml"); !strings.HasPrefix(s, "Running") || !strings.Contains(alice.Text(), "long") {
		t.Fatalf("the home page's row of ml says %q:\n%s", s, alice.Text())
	}
	checkAccessibility(t, alice.Browser, "the home page with a named workspace")
	alice.shot("home-named-running")
	alice.click("#stop-ml", "Your workspace is stopping")
	eventually(t, time.Minute, "ml to stop", func() bool {
		alice.open("/_codehub/", "Create a named workspace")
		return strings.HasPrefix(namedState(alice, "ml"), "Stopped")
	})
	if s := alice.state("workspaces", "alice"); !strings.HasPrefix(s, "Running") {
		t.Fatalf("the default workspace after stopping ml: %q", s)
	}
	alice.shot("home-named-stopped")

	// The admin page lists it under its owner, with buttons that name it.
	root := launchPages(t, g, dir, "root")
	root.signIn("root", "root-password", "/_codehub/admin")
	root.waitText("codehub admin")
	if s, _ := root.Eval(`(() => { const r = document.querySelector('#workspaces tr[data-user="alice"][data-workspace="ml"] .state'); return r ? r.innerText : "" })()`); !strings.HasPrefix(s, "Stopped") {
		t.Fatalf("the admin page's row of alice/ml says %q:\n%s", s, root.Text())
	}
	checkAccessibility(t, root.Browser, "the admin page with a named workspace")
	root.shot("admin-named")

	// Deleting it says what happens to its files first.
	alice.click("#delete-ml", "Delete your workspace ml?")
	checkAccessibility(t, alice.Browser, "the confirmation of a named workspace's deletion")
	if s := alice.Text(); !strings.Contains(s, "every file in it") || !strings.Contains(s, "Your other workspaces are not touched") {
		t.Fatalf("the confirmation:\n%s", s)
	}
	alice.shot("confirm-delete-named")
	alice.click("#confirm", "were deleted")
	if err := workbench.Until(time.Minute, "ml's home gone", func() bool { _, err := os.Stat(mlHome); return os.IsNotExist(err) }); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(defaultHome); err != nil {
		t.Fatalf("the default workspace's home after deleting ml: %v", err)
	}
}

// leaveOnBeforeUnload answers the workbench's "leave this page?" (VS Code asks on leaving
// right after a keyboard shortcut, here Ctrl+S: window.confirmBeforeClose keyboardOnly)
// with Leave, as a person would, and logs that it did.
func leaveOnBeforeUnload(t *testing.T, p *pageBrowser) {
	if err := chromedp.Listen(p.Ctx, func(ev any) {
		d, ok := ev.(*page.EventJavascriptDialogOpening)
		if !ok {
			return
		}
		t.Logf("%s dialog on leaving %s: accepted", d.Type, d.URL)
		go chromedp.Do(p.Ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
			return err
		}))
	}); err != nil {
		t.Fatal(err)
	}
}

// namedState is the state cell of the home page's row of the named workspace name.
func namedState(p *pageBrowser, name string) string {
	s, _ := p.Eval(`(() => { const r = document.querySelector('#workspaces tr[data-workspace="` + name + `"] .state'); return r ? r.innerText : "" })()`)
	return s
}
