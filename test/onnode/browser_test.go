package onnode

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/codehub-dev/codehub/internal/workbench"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/codehub-dev/codehub/internal/testkit"
	"github.com/codehub-dev/codehub/internal/testnode"
)

// browser is one headless Chromium with a fresh profile. Its host resolver knows only the
// three names of this node (the Ingress host → the gateway Service's ClusterIP, the node
// name → the bridge address, the platform → the bridge address); every other name fails to
// resolve, so nothing it loads can leave the machine.
type browser struct {
	name   string
	ctx    context.Context
	cancel func()
	repo   string
}

func (c *cluster) browser(t testing.TB, name string, within time.Duration) *browser {
	t.Helper()
	chromium := testkit.Chromium(t)
	rules := fmt.Sprintf("MAP %s %s, MAP %s %s, MAP %s %s, MAP * ~NOTFOUND", mainHost, c.gatewayIP, nodeHost, testnode.NodeIP, platformHost, testnode.NodeIP)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), workbench.ChromiumOptions(chromium, t.TempDir(),
		chromedp.Flag("host-resolver-rules", rules), chromedp.Flag("disable-features", "HttpsUpgrades,HttpsFirstBalancedModeAutoEnable"),
	)...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	ctx, cancelT := context.WithTimeout(ctx, within)
	b := &browser{name: name, ctx: ctx, repo: testkit.RepoRoot(t)}
	b.cancel = func() { cancelT(); cancelCtx(); cancelAlloc() }
	// Start the browser and its tab in b.ctx: steps run in contexts derived from it, and a
	// tab started in one of those would close with it.
	if err := chromedp.Do(ctx); err != nil {
		b.cancel()
		t.Fatalf("start Chromium: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			b.screenshot(t, "failure")
		}
		b.cancel()
	})
	return b
}

// tab opens another tab of the same browser (same cookies), e.g. to open another folder
// without the workbench's before-unload prompt of the first tab.
func (b *browser) tab(t testing.TB, name string) *browser {
	ctx, cancel := chromedp.NewContext(b.ctx)
	nb := &browser{name: name, ctx: ctx, cancel: cancel, repo: b.repo}
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		t.Fatalf("open a tab: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			nb.screenshot(t, "failure")
		}
		cancel()
	})
	return nb
}

func (b *browser) close() { b.cancel() }

func (b *browser) screenshot(t testing.TB, what string) {
	dir := filepath.Join(b.repo, "out", "onnode")
	if os.MkdirAll(dir, 0o755) != nil {
		return
	}
	if buf, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot()); err == nil {
		p := filepath.Join(dir, b.name+"-"+what+".png")
		if os.WriteFile(p, buf, 0o644) == nil {
			t.Logf("screenshot: %s", p)
		}
	}
}

// do runs actions, each step bounded by stepTimeout.
func (b *browser) do(t testing.TB, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.screenshot(t, "failed")
		t.Fatalf("%s: %s: %v", b.name, what, err)
	}
}

const stepTimeout = 2 * time.Minute

func (b *browser) eval(js string) string {
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		return "error: " + err.Error()
	}
	return s
}

// waitFor polls the page's JavaScript expression (a string) until cond holds.
func (b *browser) waitFor(t testing.TB, within time.Duration, what, js string, cond func(string) bool) string {
	t.Helper()
	got, ok := b.tryFor(within, js, cond)
	if !ok {
		b.screenshot(t, "failed")
		t.Fatalf("%s: %s: not within %s (last: %s)", b.name, what, within, got)
	}
	return got
}

// tryFor is waitFor that reports instead of failing.
func (b *browser) tryFor(within time.Duration, js string, cond func(string) bool) (string, bool) {
	deadline := time.Now().Add(within)
	for {
		got := b.eval(js)
		if cond(got) {
			return got, true
		}
		if time.Now().After(deadline) || b.ctx.Err() != nil {
			return got, false
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// signIn navigates to start (a page of the gateway), is sent to the platform's login page,
// signs in there and comes back; it returns the time from the sign-in click to the
// workbench being visible (the progress page in between when the pod is cold).
func (b *browser) signIn(t testing.TB, start string, u platformUser) time.Duration {
	t.Helper()
	b.do(t, "open "+start+" (→ the platform's login page)", chromedp.Navigate(start), chromedp.WaitVisible(chromedp.CSS("#username")))
	if loc := b.eval(`location.host`); !strings.HasPrefix(loc, platformHost) {
		t.Fatalf("%s: the sign-in page is on %s, want the platform %s", b.name, loc, platformHost)
	}
	b.do(t, "type the platform credentials", chromedp.SendKeys(chromedp.CSS("#username"), u.Name), chromedp.SendKeys(chromedp.CSS("#password"), u.Password))
	clicked := time.Now()
	b.do(t, "sign in", chromedp.Click(chromedp.CSS("#signin")))
	b.waitWorkbench(t)
	return time.Since(clicked)
}

// waitWorkbench waits for VS Code's workbench (through a progress page if the pod starts).
func (b *browser) waitWorkbench(t testing.TB) {
	t.Helper()
	b.waitFor(t, 4*time.Minute, "the VS Code workbench", `(() => {
		const w = document.querySelector('.monaco-workbench');
		if (w && w.getBoundingClientRect().width > 0) return 'workbench';
		return document.title + ' | ' + (document.body ? document.body.innerText.slice(0, 200) : '');
	})()`, func(s string) bool { return s == "workbench" })
}

// openFile clicks name in the explorer and waits for its text in the editor.
func (b *browser) openFile(t testing.TB, name, contains string) {
	t.Helper()
	row := chromedp.CSS(fmt.Sprintf(`.explorer-folders-view .monaco-list-row[aria-label=%q]`, name))
	rowCtx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	err := chromedp.Do(rowCtx, chromedp.WaitVisible(row))
	cancel()
	if err != nil {
		// The side bar may start closed: the Explorer icon toggles it.
		b.do(t, "open the explorer", chromedp.Click(chromedp.CSS(`.activitybar [aria-label^="Explorer"]`)), chromedp.WaitVisible(row))
	}
	// A click while the explorer still renders can miss: click again if the text does not
	// come (at most three times).
	for attempt := 1; ; attempt++ {
		b.do(t, "open "+name, chromedp.Click(row))
		if _, ok := b.tryFor(30*time.Second, editorJS, func(s string) bool { return strings.Contains(s, contains) }); ok {
			return
		}
		if attempt == 3 {
			b.screenshot(t, "failed")
			t.Fatalf("%s: %s opened three times, its text %q never showed in the editor", b.name, name, contains)
		}
	}
}

const editorJS = `Array.from(document.querySelectorAll('.editor-instance .view-lines')).map(e => e.innerText).join('\n').replaceAll('\u00a0', ' ')`

func (b *browser) waitEditor(t testing.TB, what, contains string) {
	t.Helper()
	b.waitFor(t, 2*time.Minute, what, editorJS, func(s string) bool { return strings.Contains(s, contains) })
}

func insertText(s string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: s})
		return err
	})
}

// typeAndSave types text at the end of the open editor and saves it (Ctrl+S).
func (b *browser) typeAndSave(t testing.TB, text string) {
	t.Helper()
	b.do(t, "type into the editor",
		chromedp.Click(chromedp.CSS(`.editor-instance .view-lines`)),
		chromedp.KeyEvent(kb.End, chromedp.KeyModifiers(chromedp.ModifierCtrl)),
		insertText(text))
	b.waitEditor(t, "the typed text", text)
	b.do(t, "save (Ctrl+S)", chromedp.KeyEvent("s", chromedp.KeyModifiers(chromedp.ModifierCtrl)))
}

// terminal opens a terminal (Ctrl+`) and runs line in it (typing over CDP: InsertText, then
// Enter; key events for text would double the characters in xterm).
func (b *browser) terminal(t testing.TB, line string) {
	t.Helper()
	term := chromedp.CSS(`.terminal-wrapper .xterm`)
	b.do(t, "open a terminal (Ctrl+`)", chromedp.KeyEvent("`", chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	waitCtx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	err := chromedp.Do(waitCtx, chromedp.WaitVisible(term))
	cancel()
	if err != nil {
		b.do(t, "open a terminal (command palette)",
			chromedp.KeyEvent("p", chromedp.KeyModifiers(chromedp.ModifierCtrl, chromedp.ModifierShift)),
			chromedp.WaitVisible(chromedp.CSS(`.quick-input-widget input`)),
			insertText("Terminal: Create New Terminal"), chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(term))
	}
	// The shell takes a moment to draw its prompt; a line typed before then is kept by the pty.
	b.do(t, "type into the terminal", chromedp.Click(term), insertText(line), chromedp.KeyEvent(kb.Enter))
}

// holds watches the workbench for a while: no reconnect dialog or banner may appear.
func (b *browser) holds(t testing.TB, d time.Duration) {
	t.Helper()
	until := time.Now().Add(d)
	for time.Now().Before(until) {
		body := b.eval(`document.body ? document.body.innerText : ''`)
		for _, bad := range []string{"Cannot reconnect", "Reconnecting", "connection was lost", "Connection lost"} {
			if strings.Contains(body, bad) {
				t.Fatalf("%s: the workbench shows %q", b.name, bad)
			}
		}
		time.Sleep(500 * time.Millisecond) // observation window the test asks for, not synchronisation
	}
}
