package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/procstat"
	"github.com/codehub-dev/codehub/internal/testkit"
	"github.com/codehub-dev/codehub/internal/workbench"
)

// Idle stops with the real gateway (local backend, as root: each workspace its own uid),
// real code-server, codehub-init with the codehub extension, and a real Chromium. Idle
// timeouts are 30–80 s; every wait has a deadline; measured figures are logged
// (docs/idle.md), never asserted against.

// workspaceInfo is the API's view of the signed-in user's workspace.
type workspaceInfo struct {
	State        string
	LastActivity *time.Time
	StopsAt      *time.Time
	StopReason   string
	Idle         float64 `json:"idleTimeoutSeconds"`
}

func (b *browser) info(t *testing.T) workspaceInfo {
	t.Helper()
	resp, err := b.Get(b.base + "/_codehub/api/v1/workspace")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var w workspaceInfo
	if err := json.NewDecoder(resp.Body).Decode(&w); err != nil || resp.StatusCode != 200 {
		t.Fatalf("workspace API: %d %v", resp.StatusCode, err)
	}
	return w
}

// idleSetup starts a gateway with idle timeout d and alice, with hello.py in her folder.
// uid 0 lets the gateway allocate alice's unix uid as usual; tests that run in parallel
// pin one of their own, since busy CPU is measured per uid.
func idleSetup(t *testing.T, d time.Duration, uid int64, extra ...string) (*gateway, string) {
	t.Helper()
	state := stateWithUsers(t, "alice")
	if uid != 0 {
		pinUID(t, state, "alice", uid)
	}
	folder := filepath.Join(state, "workspaces", identity.WorkspaceName("alice"), "home", "workspace")
	if err := os.MkdirAll(folder, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(folder, "hello.py"), []byte("print('hello')\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return startGateway(t, state, append([]string{"--idle-timeout", d.String()}, extra...)...), state
}

// chromium opens a real Chromium signed in as alice on g's workbench.
func chromium(t *testing.T, g *gateway) *workbench.Browser {
	t.Helper()
	wb, err := workbench.Launch(testkit.Chromium(t), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			if p := wb.Screenshot(filepath.Join(testkit.RepoRoot(t), "out", "e2e", t.Name()+".png")); p != "" {
				t.Logf("screenshot: %s", p)
			}
		}
		wb.Close()
	})
	if err := wb.SignIn(g.URL, "alice", "alice-password", 4*time.Minute); err != nil {
		t.Fatal(err)
	}
	return wb
}

// apiClient is a second session of alice's: the API never counts as activity.
func apiClient(t *testing.T, g *gateway) *browser {
	b := g.signIn(t, "alice")
	return b
}

// parallelUIDs is below the unix uids pinned by the idle tests that run in parallel: the
// ones whose assertions have margins of tens of seconds and that mostly wait for real
// timeouts. The tests that watch what a tab sends second by second (untouched, typing)
// run alone: on 2 cores, other workbenches starting beside them delay their messages.
const parallelUIDs = 210000

var lateRE = regexp.MustCompile(`msg="stop deadline reached".* late=([0-9.]+m?s)`)

// TestIdleUntouchedTabStops: an open, untouched workbench is not activity. The stored
// last activity stays where the page visit (and the workbench's own start-up) left it, the
// workspace stops at its deadline, and the open tab then shows VS Code's "Cannot
// reconnect" dialog, whose Reload Window starts the workspace again.
func TestIdleUntouchedTabStops(t *testing.T) {
	const timeout = time.Minute // start-up and the 5 s of quiet must end well before the deadline
	// Busy CPU is activity by design (TestIdleBusyTerminalKeepsWorkspace); on a loaded
	// machine the extension host's start-up alone can pass the threshold for a check
	// interval or two. This test is about what the tab sends, so CPU does not count here.
	g, state := idleSetup(t, timeout, 0, "--busy-cpu", "-1")
	wb := chromium(t, g)
	api := apiClient(t, g)
	pid := workspacePID(t, state, "alice")
	// The workbench's own start-up (restoring editors, writing its state: docs/idle.md)
	// counts with the visit: within about 3 s on a quiet machine, 20 s and more on a loaded
	// one. The observation starts once it is over: the codehub status-bar item is shown
	// (the extension host is up) and the mark has stayed put for 5 s. From then on nothing
	// the untouched tab sends may move it.
	first := settledMark(t, wb, api)
	if first.State != "Running" || first.LastActivity == nil || first.StopsAt == nil || first.Idle != timeout.Seconds() {
		t.Fatalf("running workspace: %+v", first)
	}
	// Until both the stop and the open tab's reload dialog are seen, the stored activity
	// must not move.
	var stoppedAt, dialogAt time.Time
	var dialog string
	eventually(t, timeout+2*time.Minute, "the idle stop and the tab's reload dialog", func() bool {
		if stoppedAt.IsZero() {
			w := api.info(t)
			if w.State == "Running" && !w.LastActivity.Equal(*first.LastActivity) {
				t.Fatalf("the untouched tab moved the last activity from %v to %v", first.LastActivity, w.LastActivity)
			}
			if w.State != "Running" {
				stoppedAt = time.Now()
			}
		}
		if dialogAt.IsZero() {
			if d := wb.Dialog(); strings.Contains(d, "Cannot reconnect") && strings.Contains(d, "Reload Window") {
				dialogAt, dialog = time.Now(), d
			}
		}
		return !stoppedAt.IsZero() && !dialogAt.IsZero()
	})
	if stoppedAt.Before(*first.StopsAt) || dialogAt.Before(*first.StopsAt) {
		t.Fatalf("stopped at %v (tab told at %v), before its deadline %v", stoppedAt, dialogAt, first.StopsAt)
	}
	late := "?"
	if m := lateRE.FindStringSubmatch(g.Stderr.String()); m != nil {
		late = m[1]
	}
	t.Logf("measured: untouched tab stopped %s after its deadline (backend: %s late); the tab showed the reload dialog %s after the deadline",
		stoppedAt.Sub(*first.StopsAt).Round(100*time.Millisecond), late, dialogAt.Sub(*first.StopsAt).Round(100*time.Millisecond))
	for _, l := range strings.Split(dialog, "\n") {
		if strings.Contains(l, "Cannot reconnect") {
			t.Logf("the dialog says: %q", l)
		}
	}
	eventually(t, time.Minute, "the workspace process to exit", func() bool { return !alive(pid) })
	if err := wb.ClickDialogButton("Reload Window"); err != nil {
		t.Fatal(err)
	}
	// The reload is a page visit: it starts the workspace again.
	eventually(t, 4*time.Minute, "Reload Window to start the workspace again", func() bool {
		p := workspacePID(t, state, "alice")
		return p != 0 && p != pid && api.info(t).State == "Running"
	})
	if err := wb.WaitWorkbench(4 * time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := workbench.Until(time.Minute, "the reloaded workbench without the dialog", func() bool { return wb.Dialog() == "" }); err != nil {
		t.Fatal(err)
	}
}

// settledMark waits for the end of the workbench's start-up (the codehub status-bar item
// shown, then the stored activity unchanged for 5 s) and returns the workspace's state then.
func settledMark(t *testing.T, wb *workbench.Browser, api *browser) workspaceInfo {
	t.Helper()
	if err := workbench.Until(2*time.Minute, "the codehub status bar item", func() bool {
		return strings.Contains(wb.Text(), "stops in")
	}); err != nil {
		t.Fatalf("%v:\n%s", err, wb.Text())
	}
	const quiet = 5 * time.Second
	w := api.info(t)
	since := time.Now()
	eventually(t, time.Minute, "the stored activity to stay put for "+quiet.String(), func() bool {
		now := api.info(t)
		if now.LastActivity == nil || w.LastActivity == nil || !now.LastActivity.Equal(*w.LastActivity) {
			w, since = now, time.Now()
		}
		return time.Since(since) >= quiet
	})
	return w
}

// TestIdleTypingKeepsWorkspace: a character typed every third of the idle timeout, for
// twice the timeout, keeps the workspace running; each keystroke moves the stored last
// activity.
func TestIdleTypingKeepsWorkspace(t *testing.T) {
	const timeout, every = 30 * time.Second, 10 * time.Second
	g, state := idleSetup(t, timeout, 0)
	wb := chromium(t, g)
	api := apiClient(t, g)
	pid := workspacePID(t, state, "alice")
	if err := wb.OpenFile("hello.py"); err != nil {
		t.Fatal(err)
	}
	end := time.Now().Add(2 * timeout)
	typed := ""
	for time.Now().Before(end) {
		before := time.Now()
		if err := wb.TypeInEditor("x"); err != nil {
			t.Fatal(err)
		}
		typed += "x"
		eventually(t, 15*time.Second, "the keystroke in the stored last activity", func() bool {
			w := api.info(t)
			if w.State != "Running" {
				t.Fatalf("stopped while typing: %+v", w)
			}
			return w.LastActivity != nil && !w.LastActivity.Before(before.Add(-time.Second))
		})
		time.Sleep(time.Until(before.Add(every))) // a person typing now and then
	}
	if w := api.info(t); w.State != "Running" || workspacePID(t, state, "alice") != pid {
		t.Fatalf("after %s of typing every %s: %+v, pid %d (was %d)", 2*timeout, every, w, workspacePID(t, state, "alice"), pid)
	}
	if text := wb.EditorText(); !strings.Contains(text, typed) {
		t.Fatalf("the editor lacks the typed %q:\n%s", typed, text)
	}
}

// TestIdleBusyTerminalKeepsWorkspace: a busy loop started in the terminal keeps the
// workspace running past its idle timeout while nobody touches the tab (an
// untouched tab alone stops after one: TestIdleUntouchedTabStops), and once the loop ends
// the workspace stops.
func TestIdleBusyTerminalKeepsWorkspace(t *testing.T) {
	t.Parallel() // with the other tests that wait most of their time (see parallelUIDs)
	// Signing in and opening a terminal must end before the deadline of the visit: beside
	// the other parallel tests on 2 cores that took more than 30 s.
	const timeout = time.Minute
	g, state := idleSetup(t, timeout, parallelUIDs+1)
	wb := chromium(t, g)
	api := apiClient(t, g)
	pid := workspacePID(t, state, "alice")
	uid := uidOf(t, state, "alice")
	if err := wb.OpenTerminal(); err != nil {
		t.Fatal(err)
	}
	// Without busy CPU counting, the stop would come one timeout and a check interval
	// (6 s) after the command was typed, before started: watching 20 s past the timeout
	// is enough to see it. The loop outlives the watch.
	observe := timeout + 20*time.Second
	busy := observe + 15*time.Second
	if err := wb.TypeInTerminal(fmt.Sprintf("timeout %d sh -c 'while :; do :; done'", int(busy.Seconds()))); err != nil {
		t.Fatal(err)
	}
	loop := 0
	eventually(t, time.Minute, "the busy loop", func() bool { loop = busyLoop(uid); return loop != 0 })
	started := time.Now()
	for time.Since(started) < observe {
		if w := api.info(t); w.State != "Running" || !alive(pid) {
			t.Fatalf("stopped %s into a busy loop: %+v", time.Since(started).Round(time.Second), w)
		}
		time.Sleep(2 * time.Second) // observation window of the test
	}
	if !alive(loop) {
		t.Fatal("the busy loop ended early: the check above proves nothing")
	}
	eventually(t, busy+timeout+2*time.Minute, "the stop after the loop ended", func() bool { return api.info(t).State != "Running" })
	if alive(loop) {
		t.Fatal("stopped while the loop still ran")
	}
	t.Logf("measured: stopped %s after the busy loop started (loop %s, idle timeout %s)", time.Since(started).Round(time.Second), busy, timeout)
}

// busyLoop finds the terminal's `sh -c while…` of uid (0 if none).
func busyLoop(uid int) int {
	for _, p := range procstat.OfUID(procstat.Scan(), uid) {
		cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(p.PID) + "/cmdline")
		if strings.Contains(string(cmdline), "while :; do :; done") && strings.HasPrefix(string(cmdline), "sh\x00") {
			return p.PID
		}
	}
	return 0
}

// TestIdleWarningKeepRunningAndCommands: the codehub extension shows the user and the
// time until the stop in the status bar, warns before the idle stop, and its Keep running
// moves the deadline; Sign out and Open dashboard open the gateway's pages, Stop workspace
// stops it and the tab offers a reload.
func TestIdleWarningKeepRunningAndCommands(t *testing.T) {
	// The warning comes half the timeout before the deadline; Keep running then moves it
	// past the old one by about half the timeout, time for the commands below.
	const timeout = 80 * time.Second
	t.Parallel()
	g, state := idleSetup(t, timeout, parallelUIDs+2, "--busy-cpu", "-1") // as in TestIdleUntouchedTabStops
	wb := chromium(t, g)
	api := apiClient(t, g)
	pid := workspacePID(t, state, "alice")
	if err := workbench.Until(2*time.Minute, "the codehub status bar item", func() bool {
		s := wb.Text()
		return strings.Contains(s, "alice") && strings.Contains(s, "stops in")
	}); err != nil {
		t.Fatalf("%v:\n%s", err, wb.Text())
	}
	before := api.info(t)
	var note string
	if err := workbench.Until(timeout, "the idle warning", func() bool {
		note = wb.Notification()
		return strings.Contains(note, "because it is idle")
	}); err != nil {
		t.Fatalf("%v; page:\n%s", err, wb.Text())
	}
	left := time.Until(*before.StopsAt)
	for _, l := range strings.Split(note, "\n") {
		if strings.Contains(l, "because it is idle") {
			t.Logf("measured: warning %q shown %s before the deadline", l, left.Round(time.Second))
		}
	}
	if err := wb.ClickNotificationButton("Keep running"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "Keep running to move the deadline", func() bool {
		w := api.info(t)
		return w.StopsAt != nil && w.StopsAt.After(before.StopsAt.Add(timeout/4))
	})
	time.Sleep(time.Until(before.StopsAt.Add(5 * time.Second))) // past the old deadline
	if w := api.info(t); w.State != "Running" || workspacePID(t, state, "alice") != pid {
		t.Fatalf("stopped at the old deadline despite Keep running: %+v", w)
	}

	for _, c := range []struct{ command, page string }{{"codehub: Open Dashboard", "/_codehub/"}, {"codehub: Sign Out", "/_codehub/logout"}} {
		if err := wb.Command(c.command); err != nil {
			t.Fatal(err)
		}
		if err := workbench.Until(30*time.Second, c.command+" opening "+c.page, func() bool {
			_ = wb.ClickDialogButton("Open") // VS Code may ask before opening an external link
			for _, u := range wb.PageURLs() {
				if strings.HasPrefix(u, g.URL+c.page) || u == g.URL+c.page {
					return true
				}
			}
			return false
		}); err != nil {
			t.Fatalf("%v: pages %q", err, wb.PageURLs())
		}
	}

	if err := wb.Command("codehub: Stop Workspace"); err != nil {
		t.Fatal(err)
	}
	if err := workbench.Until(30*time.Second, "the stop confirmation", func() bool { return wb.ClickDialogButton("Stop workspace") == nil }); err != nil {
		t.Fatalf("%v:\n%s", err, wb.Text())
	}
	eventually(t, time.Minute, "Stop workspace to stop it", func() bool { return api.info(t).State != "Running" })
	if err := workbench.Until(time.Minute, "the reload dialog", func() bool { return strings.Contains(wb.Dialog(), "Cannot reconnect") }); err != nil {
		t.Fatalf("%v:\n%s", err, wb.Text())
	}
}

// TestIdleAPIStartedWorkspaceStops: a workspace started with an API token and never
// visited stops one idle timeout after its start; the API reports that start as its last
// activity.
func TestIdleAPIStartedWorkspaceStops(t *testing.T) {
	t.Parallel()
	const timeout = 30 * time.Second
	g, state := idleSetup(t, timeout, parallelUIDs+3)
	b := apiClient(t, g)
	token := mintToken(t, b, "cli")
	if code, body := apiCall(t, g, token, "start", "alice"); code != http.StatusOK {
		t.Fatalf("API start: %d %s", code, body)
	}
	eventually(t, 2*time.Minute, "the API-started workspace to run", func() bool { return apiState(t, g, token, "alice") == "Running" })
	w := b.info(t)
	if w.LastActivity == nil || w.StopsAt == nil || !w.StopsAt.Equal(w.LastActivity.Add(timeout)) {
		t.Fatalf("API-started workspace: %+v", w)
	}
	pid := workspacePID(t, state, "alice")
	eventually(t, timeout+2*time.Minute, "the never-visited workspace to stop", func() bool { return apiState(t, g, token, "alice") == "Stopped" })
	t.Logf("measured: never-visited workspace stopped %s after its deadline", time.Since(*w.StopsAt).Round(100*time.Millisecond))
	if alive(pid) {
		t.Fatal("the process is still running")
	}
}
