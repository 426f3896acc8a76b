package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/codehub-dev/codehub/internal/testkit"
	"github.com/codehub-dev/codehub/internal/workbench"
)

// The accessibility check of the gateway's pages, in the real Chromium that shows them:
//   - labels: every input, select, textarea and button has an accessible name (aria-label,
//     aria-labelledby, a <label> for it or around it, title, or a button's own text);
//   - headings: exactly one h1, and no level skipped going down (h1 → h3 is a skip);
//   - keyboard: every control is reached by pressing Tab (real key events through CDP), and
//     each shows a visible focus indicator then (a focus outline or box shadow that is not
//     none) — which also proves the page's style sheet was applied under its hash-only CSP.
// No npm dependency: the rules are the few lines of JavaScript below.

// a11yScan numbers the page's controls (data-a11y) and reports naming and heading problems.
const a11yScan = `(() => {
  const problems = [];
  const visible = e => { const r = e.getBoundingClientRect(); const s = getComputedStyle(e);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; };
  const name = e => {
    const t = s => (s || '').replace(/\s+/g, ' ').trim();
    if (t(e.getAttribute('aria-label'))) return t(e.getAttribute('aria-label'));
    const by = e.getAttribute('aria-labelledby');
    if (by) { const s = by.split(/\s+/).map(id => document.getElementById(id)).filter(Boolean).map(x => x.textContent).join(' '); if (t(s)) return t(s); }
    if (e.id) { const l = document.querySelector('label[for="' + CSS.escape(e.id) + '"]'); if (l && t(l.textContent)) return t(l.textContent); }
    const wrap = e.closest('label'); if (wrap && t(wrap.textContent)) return t(wrap.textContent);
    if (e.tagName === 'BUTTON' && t(e.textContent)) return t(e.textContent);
    if (e.tagName === 'INPUT' && ['submit', 'button', 'reset'].includes(e.type) && t(e.value)) return t(e.value);
    if (t(e.getAttribute('title'))) return t(e.getAttribute('title'));
    return '';
  };
  const controls = [...document.querySelectorAll('input, select, textarea, button')].filter(e => e.type !== 'hidden');
  for (const e of controls) if (!name(e)) problems.push('no accessible name: ' + e.outerHTML.slice(0, 120));
  const hs = [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')].map(h => +h.tagName[1]);
  if (hs.filter(l => l === 1).length !== 1) problems.push(hs.filter(l => l === 1).length + ' h1 elements, want 1');
  if (hs.length && hs[0] !== 1) problems.push('the first heading is h' + hs[0]);
  for (let i = 1; i < hs.length; i++) if (hs[i] > hs[i - 1] + 1) problems.push('heading level skipped: h' + hs[i - 1] + ' then h' + hs[i]);
  const focusable = [...document.querySelectorAll('a[href], button, input, select, textarea, [tabindex]')]
    .filter(e => e.type !== 'hidden' && !e.disabled && e.tabIndex >= 0 && visible(e));
  focusable.forEach((e, i) => e.setAttribute('data-a11y', String(i)));
  if (getComputedStyle(document.body).backgroundColor !== 'rgb(30, 30, 30)') problems.push('the style sheet was not applied (CSP hash?)');
  return JSON.stringify({problems, controls: focusable.map(e => e.outerHTML.slice(0, 100))});
})()`

// a11yFocused says which numbered control has the focus and whether its focus shows.
const a11yFocused = `(() => { const e = document.activeElement;
  if (!e || !e.hasAttribute('data-a11y')) return JSON.stringify({idx: -1});
  const s = getComputedStyle(e);
  const shown = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || (s.boxShadow && s.boxShadow !== 'none');
  return JSON.stringify({idx: +e.getAttribute('data-a11y'), shown, html: e.outerHTML.slice(0, 100)}); })()`

// checkAccessibility fails t with every problem of the page open in b, named page.
func checkAccessibility(t *testing.T, b *workbench.Browser, page string) {
	t.Helper()
	problems, controls, err := a11yProblems(b)
	if err != nil {
		t.Fatalf("%s: %v", page, err)
	}
	if len(problems) > 0 {
		t.Errorf("%s fails the accessibility check:\n  %s", page, strings.Join(problems, "\n  "))
		return
	}
	t.Logf("%s: accessibility check passed (%d controls named, reached by Tab with visible focus; headings in order)", page, controls)
}

// a11yProblems runs the check on the page open in b: its problems and how many controls.
func a11yProblems(b *workbench.Browser) ([]string, int, error) {
	raw, err := b.Eval(a11yScan)
	if err != nil {
		return nil, 0, fmt.Errorf("accessibility scan: %w", err)
	}
	var scan struct {
		Problems []string
		Controls []string
	}
	if err := json.Unmarshal([]byte(raw), &scan); err != nil {
		return nil, 0, fmt.Errorf("scan result %q: %w", raw, err)
	}
	if len(scan.Controls) == 0 {
		scan.Problems = append(scan.Problems, "no focusable control at all (the check would prove nothing)")
	}
	// Tab from wherever the focus starts (autofocus) around the page and back: twice the
	// controls and a few presses for the browser's own stops cover a full cycle.
	reached := map[int]bool{}
	for i := 0; i < 2*len(scan.Controls)+4; i++ {
		if err := b.Do(10*time.Second, chromedp.KeyEvent(kb.Tab)); err != nil {
			return nil, 0, fmt.Errorf("tab: %w", err)
		}
		out, err := b.Eval(a11yFocused)
		if err != nil {
			return nil, 0, fmt.Errorf("focused element: %w", err)
		}
		var f struct {
			Idx   int
			Shown bool
			HTML  string
		}
		_ = json.Unmarshal([]byte(out), &f)
		if f.Idx < 0 {
			continue
		}
		if !f.Shown && !reached[f.Idx] {
			scan.Problems = append(scan.Problems, "no visible focus on "+f.HTML)
		}
		reached[f.Idx] = true
	}
	for i, c := range scan.Controls {
		if !reached[i] {
			scan.Problems = append(scan.Problems, "not reachable by Tab: "+c)
		}
	}
	return scan.Problems, len(scan.Controls), nil
}

// TestAccessibilityCheckCatchesProblems: the check fails a page with each kind of problem
// (so its passes on the gateway's pages mean something).
func TestAccessibilityCheckCatchesProblems(t *testing.T) {
	b, err := workbench.Launch(testkit.Chromium(t), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const bad = `<!doctype html><html lang="en"><head><style>button.plain:focus{outline:none}</style></head><body>
<h1>One</h1><h1>Two</h1><h3>Skipped</h3><input type="text" id="x"><button class="plain">Go</button>
<div inert><button>Unreachable</button></div><label for="ok">Named</label><input id="ok"></body></html>`
	if err := b.Do(30*time.Second, chromedp.Navigate("data:text/html,"+url.PathEscape(bad))); err != nil {
		t.Fatal(err)
	}
	problems, _, err := a11yProblems(b)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(problems, "\n")
	for _, want := range []string{`no accessible name: <input type="text" id="x">`, "2 h1 elements", "heading level skipped: h1 then h3",
		"no visible focus on <button", `not reachable by Tab: <button data-a11y="2">Unreachable`, "style sheet was not applied"} {
		if !strings.Contains(all, want) {
			t.Errorf("the check missed %q; it found:\n%s", want, all)
		}
	}
	if strings.Contains(all, `id="ok"`) {
		t.Errorf("a labelled input was reported:\n%s", all)
	}
}
