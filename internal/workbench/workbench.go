// Package workbench drives a real VS Code workbench (code-server through the gateway) in a
// real headless Chromium over CDP: sign in, open a file, type, save, use the terminal, run
// a command, read notifications and dialogs. The browser tests and the activity
// measurement (bench/cmd/codehub-activity) share it. Every wait has a deadline.
package workbench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// Browser is one headless Chromium with one tab.
type Browser struct {
	Ctx    context.Context
	cancel []context.CancelFunc
}

// ChromiumOptions are the allocator options of every headless Chromium the tests and
// benchmarks start: the binary chromium, a profile in profileDir, no sandbox (root), no GPU,
// a 1400×900 window, no component updates and no QUIC (nothing but the loopback traffic
// the test makes), then extra.
func ChromiumOptions(chromium, profileDir string, extra ...chromedp.ExecAllocatorOption) []chromedp.ExecAllocatorOption {
	return append(append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(profileDir), chromedp.WindowSize(1400, 900),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-quic", true),
	), extra...)
}

// Launch starts Chromium (path chromium) with a fresh profile in profileDir.
func Launch(chromium, profileDir string) (*Browser, error) {
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), ChromiumOptions(chromium, profileDir,
		// A hidden tab must not be throttled: the measurement is of a visible, untouched tab.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
	)...)
	ctx, cancel := chromedp.NewContext(alloc)
	b := &Browser{Ctx: ctx, cancel: []context.CancelFunc{cancel, cancelAlloc}}
	// The first action starts the browser; it must not carry a timeout (see chromedp.Run).
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		b.Close()
		return nil, fmt.Errorf("start chromium: %w", err)
	}
	return b, nil
}

// Close stops the browser.
func (b *Browser) Close() {
	for _, c := range b.cancel {
		c()
	}
}

// Do runs actions with a deadline.
func (b *Browser) Do(within time.Duration, actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(b.Ctx, within)
	defer cancel()
	return chromedp.Do(ctx, actions...)
}

// Eval evaluates a JavaScript expression returning a string.
func (b *Browser) Eval(js string) (string, error) {
	ctx, cancel := context.WithTimeout(b.Ctx, 20*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[string](js))
}

// Text is the page's visible text ("" on error).
func (b *Browser) Text() string {
	s, _ := b.Eval(`document.body ? document.body.innerText : ""`)
	return strings.ReplaceAll(s, "\u00a0", " ")
}

// Screenshot writes a PNG to path (best effort) and returns the path or "".
func (b *Browser) Screenshot(path string) string {
	ctx, cancel := context.WithTimeout(b.Ctx, 20*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil || os.MkdirAll(filepath.Dir(path), 0o755) != nil || os.WriteFile(path, buf, 0o644) != nil {
		return ""
	}
	return path
}

// Until polls cond every 250 ms until it is true or within passes.
func Until(within time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(250 * time.Millisecond) // polling the page, bounded by the deadline
	}
	return nil
}

// SignIn opens base, fills the gateway's sign-in form and waits for the workbench.
func (b *Browser) SignIn(base, user, password string, within time.Duration) error {
	if err := b.Do(time.Minute, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), user), chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("button[type=submit]"))); err != nil {
		return fmt.Errorf("sign-in form: %w", err)
	}
	return b.WaitWorkbench(within)
}

// WaitWorkbench waits until the workbench is shown and connected (the status bar's remote
// indicator is there and no reconnect notice is up).
func (b *Browser) WaitWorkbench(within time.Duration) error {
	if err := b.Do(within, chromedp.WaitVisible(chromedp.CSS(".monaco-workbench .part.statusbar"))); err != nil {
		return fmt.Errorf("workbench never appeared: %w", err)
	}
	return nil
}

// OpenFile opens name from the Explorer (the side bar may start closed).
func (b *Browser) OpenFile(name string) error {
	row := chromedp.CSS(`.explorer-folders-view .monaco-list-row[aria-label="` + name + `"]`)
	if err := b.Do(90*time.Second, chromedp.WaitVisible(row)); err != nil {
		if err := b.Do(90*time.Second, chromedp.Click(chromedp.CSS(`.activitybar [aria-label^="Explorer"]`)), chromedp.WaitVisible(row)); err != nil {
			return fmt.Errorf("%s never showed in the explorer: %w", name, err)
		}
	}
	if err := b.Do(time.Minute, chromedp.Click(row)); err != nil {
		return fmt.Errorf("click %s: %w", name, err)
	}
	// The window title names the active editor ("hello.py - workspace - code-server").
	return Until(2*time.Minute, name+" open in an editor", func() bool {
		s, err := b.Eval(`document.title`)
		return err == nil && strings.HasPrefix(s, name)
	})
}

// EditorText is the text of the visible editors.
func (b *Browser) EditorText() string {
	s, _ := b.Eval(`Array.from(document.querySelectorAll('.editor-instance .view-lines')).map(e => e.innerText).join('\n')`)
	return strings.ReplaceAll(s, "\u00a0", " ")
}

// TypeInEditor focuses the active editor and types text, one key press per character with
// the text on the key-down event (as a real keyboard delivers it; the editor's EditContext
// takes text from there, not from separate char events).
// The cursor goes to the first visible line first (a click there, as a person would).
func (b *Browser) TypeInEditor(text string) error {
	if err := b.ClickEditorLine(0); err != nil {
		return err
	}
	return b.Do(30*time.Second, typeKeys(text))
}

func typeKeys(text string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for _, r := range text {
			s := string(r)
			down := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyDown, Key: s, Text: s, UnmodifiedText: s}
			if r >= 'a' && r <= 'z' {
				down.Code, down.WindowsVirtualKeyCode = "Key"+strings.ToUpper(s), int64(r-'a'+'A')
			}
			up := down
			up.Type, up.Text, up.UnmodifiedText = input.DispatchKeyEventTypeKeyUp, "", ""
			for _, ev := range []input.DispatchKeyEventParams{down, up} {
				if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, ev); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func insertText(text string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: text})
		return err
	})
}

// ClickEditorLine clicks into line i (modulo the visible lines) of the active editor: the
// cursor moves, as when a person clicks. An editor that is open but still fetching its
// file over the remote connection has no lines yet: they are waited for.
func (b *Browser) ClickEditorLine(i int) error {
	var xy string
	var err error
	if werr := Until(time.Minute, "a line in the active editor", func() bool {
		xy, err = b.Eval(fmt.Sprintf(`(() => { const l = document.querySelectorAll('.editor-instance .view-lines .view-line');
		if (!l.length) return ""; const r = l[%d %% l.length].getBoundingClientRect(); return (r.left + 40) + "," + (r.top + r.height / 2) })()`, i))
		return err == nil && xy != ""
	}); werr != nil {
		return fmt.Errorf("no editor line to click (%v): %w", err, werr)
	}
	var x, y float64
	if _, err := fmt.Sscanf(xy, "%g,%g", &x, &y); err != nil {
		return err
	}
	return b.Do(20*time.Second, chromedp.MouseClickXY(x, y))
}

// Save presses Ctrl+S.
func (b *Browser) Save() error {
	return b.Do(30*time.Second, chromedp.KeyEvent("s", chromedp.KeyModifiers(chromedp.ModifierCtrl)))
}

// Command runs a command from the palette (F1, its title, Enter). A command whose
// precondition is not met yet (the terminal's, until the remote pty host answers) is not
// listed, and an open palette does not list it later: the palette is closed and opened
// again until the command shows, for up to two minutes.
func (b *Browser) Command(title string) error {
	input := chromedp.CSS(".quick-input-widget input")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if err := b.Do(time.Minute, chromedp.KeyEvent(kb.F1), chromedp.WaitVisible(input)); err != nil {
			return fmt.Errorf("command palette: %w", err)
		}
		if err := b.Do(time.Minute, chromedp.SendKeys(input, title)); err != nil {
			return fmt.Errorf("type %q: %w", title, err)
		}
		// The list filters asynchronously: wait until the first row is the command.
		err := Until(15*time.Second, "the command "+title+" in the palette", func() bool {
			s, err := b.Eval(`(document.querySelector('.quick-input-widget .monaco-list-row') || {}).innerText || ""`)
			return err == nil && strings.Contains(strings.ToLower(s), strings.ToLower(title))
		})
		if err == nil {
			return b.Do(30*time.Second, chromedp.KeyEvent(kb.Enter))
		}
		if time.Now().After(deadline) {
			return err
		}
		if err := b.Do(30*time.Second, chromedp.KeyEvent(kb.Escape)); err != nil {
			return fmt.Errorf("close the palette: %w", err)
		}
	}
}

// OpenTerminal creates an integrated terminal and waits for its xterm.
func (b *Browser) OpenTerminal() error {
	if err := b.Command("Terminal: Create New Terminal"); err != nil {
		return err
	}
	return b.Do(2*time.Minute, chromedp.WaitVisible(chromedp.CSS(".terminal-wrapper .xterm")))
}

// TypeInTerminal types a line into the focused integrated terminal and presses Enter. Text
// goes in as one insertText (key events would double characters in xterm).
func (b *Browser) TypeInTerminal(line string) error {
	return b.Do(30*time.Second, chromedp.Click(chromedp.CSS(".terminal-wrapper .xterm")), insertText(line), chromedp.KeyEvent(kb.Enter))
}

// TerminalText is the visible text of the terminal.
func (b *Browser) TerminalText() string {
	s, _ := b.Eval(`Array.from(document.querySelectorAll('.terminal-wrapper .xterm-rows')).map(e => e.innerText).join('\n')`)
	return strings.ReplaceAll(s, "\u00a0", " ")
}

// Notification is the text of the visible notification toasts ("" if none).
func (b *Browser) Notification() string { return b.texts(".notifications-toasts .notification-toast") }

// ClickNotificationButton clicks the button labelled label on a visible notification.
func (b *Browser) ClickNotificationButton(label string) error {
	js := clickButtonJS(".notifications-toasts .notification-toast .monaco-button", label)
	return Until(30*time.Second, "the notification button "+label, func() bool {
		s, err := b.Eval(js)
		return err == nil && s == "clicked"
	})
}

// Dialog is the text of a modal dialog ("" if none).
func (b *Browser) Dialog() string { return b.texts(".monaco-dialog-box") }

// ClickDialogButton clicks the dialog button labelled label.
func (b *Browser) ClickDialogButton(label string) error {
	s, err := b.Eval(clickButtonJS(".monaco-dialog-box .monaco-button", label))
	if err != nil {
		return err
	}
	if s != "clicked" {
		return errors.New("no dialog button " + label)
	}
	return nil
}

// texts is the text of every element matching selector, one a line ("" if none).
func (b *Browser) texts(selector string) string {
	s, _ := b.Eval(fmt.Sprintf(`Array.from(document.querySelectorAll(%q)).map(e => e.innerText).join('\n')`, selector))
	return s
}

// clickButtonJS is a script that clicks the first of the buttons matching selector whose
// label is label and answers "clicked" (or "" when there is none yet).
func clickButtonJS(selector, label string) string {
	return fmt.Sprintf(`(() => { for (const a of document.querySelectorAll(%q)) {
		if (a.innerText.trim() === %q) { a.click(); return "clicked" } } return "" })()`, selector, label)
}

// StatusBarItem is the text of the status bar item whose id contains id ("" if none).
func (b *Browser) StatusBarItem(id string) string {
	s, _ := b.Eval(fmt.Sprintf(`(() => { const e = document.querySelector('.part.statusbar [id*=%q]'); return e ? e.innerText : "" })()`, id))
	return s
}

// PageURLs are the URLs of the browser's open pages (a command that opens a link opens one).
func (b *Browser) PageURLs() []string {
	ctx, cancel := context.WithTimeout(b.Ctx, 20*time.Second)
	defer cancel()
	infos, err := chromedp.Targets(ctx)
	if err != nil {
		return nil
	}
	var out []string
	for _, i := range infos {
		if i.Type == "page" {
			out = append(out, i.URL)
		}
	}
	return out
}
