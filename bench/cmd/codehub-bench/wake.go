package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/codehub-dev/codehub/bench/internal/freeport"
)

// Wake is codehub's wake latency with a real code-server: a stopped workspace (a fresh
// gateway process) → the workbench HTML served.
type Wake struct {
	CodeServer string    `json:"code_server,omitempty"`
	Version    string    `json:"code_server_version,omitempty"`
	TrialsS    []float64 `json:"trials_s,omitempty"`
	Errors     []string  `json:"errors,omitempty"`
	Skipped    string    `json:"skipped,omitempty"`
}

func measureWake(ctx context.Context, e env, trials int) Wake {
	w := Wake{CodeServer: e.codeServer}
	if out, err := exec.Command(e.codeServer, "--version").Output(); err == nil {
		w.Version = firstLine(string(out))
	}
	work := filepath.Join(e.work, "wake")
	state := filepath.Join(work, "state")
	if err := os.MkdirAll(work, 0o755); err != nil { // as root the workspace runs as its own uid
		w.Errors = append(w.Errors, err.Error())
		return w
	}
	if err := addUser(e.codehub, state); err != nil {
		w.Errors = append(w.Errors, err.Error())
		return w
	}
	for i := 1; i <= trials && ctx.Err() == nil; i++ {
		d, err := wakeOnce(ctx, e, work, state, i)
		if err != nil {
			w.Errors = append(w.Errors, fmt.Sprintf("trial %d: %v", i, err))
			progress("wake trial %d: %v", i, err)
			continue
		}
		w.TrialsS = append(w.TrialsS, d.Seconds())
		progress("wake trial %d: stopped → workbench HTML in %.2fs", i, d.Seconds())
	}
	return w
}

func wakeOnce(ctx context.Context, e env, work, state string, trial int) (time.Duration, error) {
	p := &procs{dir: work}
	defer p.stopAll()
	port := freeport.Get()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	cmd := exec.Command(e.codehub, "serve", "--state-dir", state, "--code-server", e.codeServer,
		"--listen", fmt.Sprintf("127.0.0.1:%d", port), "--idle-timeout", "0", "--metrics-listen", "")
	if err := p.start(fmt.Sprintf("wake-codehub-%d", trial), cmd); err != nil {
		return 0, err
	}
	if err := waitHTTP(base+"/_codehub/healthz", 30*time.Second); err != nil {
		return 0, err
	}
	cookie, err := codehubLogin(base)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if err := wakeUntilServed(ctx, base, cookie, 120*time.Second, true); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

func firstLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
