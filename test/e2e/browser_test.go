package e2e

import (
	"context"
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

// TestBrowserSignInAndEditFile drives a real headless Chromium: the sign-in form, the
// VS Code workbench served through the gateway, a file opened from the explorer and
// read in the editor, and no reconnect dialog for 30 s.
func TestBrowserSignInAndEditFile(t *testing.T) {
	chromium := testkit.Chromium(t)
	state := stateWithUsers(t, "alice")
	folder := filepath.Join(state, "workspaces", identity.WorkspaceName("alice"), "home", "workspace")
	if err := os.MkdirAll(folder, 0o700); err != nil {
		t.Fatal(err)
	}
	const marker = "print('hello from codehub e2e')"
	if err := os.WriteFile(filepath.Join(folder, "hello.py"), []byte(marker+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, state, "--idle-timeout", "0")

	outDir := filepath.Join(testkit.RepoRoot(t), "out", "e2e")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		t.Fatal(err)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), workbench.ChromiumOptions(chromium, t.TempDir())...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 6*time.Minute)
	defer cancelTimeout()
	screenshot := func(name string) {
		if buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
			p := filepath.Join(outDir, name)
			if os.WriteFile(p, buf, 0o644) == nil {
				t.Logf("screenshot: %s", p)
			}
		}
	}
	defer func() {
		if t.Failed() {
			screenshot("failure.png")
		}
	}()

	start := time.Now()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(g.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), "alice"),
		chromedp.SendKeys(chromedp.CSS("#password"), "alice-password"),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
	); err != nil {
		t.Fatalf("sign-in form: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(".monaco-workbench"))); err != nil {
		t.Fatalf("workbench never appeared: %v", err)
	}
	t.Logf("measured: sign-in click to .monaco-workbench visible %s", time.Since(start).Round(100*time.Millisecond))

	row := chromedp.CSS(`.explorer-folders-view .monaco-list-row[aria-label="hello.py"]`)
	rowCtx, cancelRow := context.WithTimeout(ctx, 90*time.Second)
	err := chromedp.Do(rowCtx, chromedp.WaitVisible(row))
	cancelRow()
	if err != nil {
		// The side bar may start closed: the Explorer icon toggles it.
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`.activitybar [aria-label^="Explorer"]`)), chromedp.WaitVisible(row)); err != nil {
			t.Fatalf("hello.py never showed in the explorer: %v", err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Click(row)); err != nil {
		t.Fatalf("click hello.py: %v", err)
	}
	eventuallyCtx(t, ctx, 2*time.Minute, "hello.py's text in the editor", func() bool {
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`Array.from(document.querySelectorAll('.editor-instance .view-lines')).map(e => e.innerText).join('\n')`))
		return err == nil && strings.Contains(strings.ReplaceAll(s, "\u00a0", " "), marker)
	})
	screenshot("workbench.png")

	// The connection must hold: no reconnect dialog or banner for 30 seconds.
	watchUntil := time.Now().Add(30 * time.Second)
	for time.Now().Before(watchUntil) {
		body, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		if err != nil {
			t.Fatalf("read page: %v", err)
		}
		for _, bad := range []string{"Reconnecting", "Cannot reconnect", "connection was lost", "Connection lost"} {
			if strings.Contains(body, bad) {
				t.Fatalf("workbench shows %q", bad)
			}
		}
		time.Sleep(500 * time.Millisecond) // observation window required by the test, not synchronisation
	}
}

func eventuallyCtx(t *testing.T, ctx context.Context, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
