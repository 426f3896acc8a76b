// Command codehub-init prepares a workspace (kubeconfig, conda, VS Code settings, builtin
// extensions) and then execs code-server. It runs before code-server in every workspace pod
// and in the gateway's local backend. It deliberately links no Kubernetes client: it only
// writes files, and it should stay small and start fast.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/codehub-dev/codehub/internal/agent"
	"github.com/codehub-dev/codehub/internal/wsinit"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == wsinit.BusyReporterArg {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		os.Exit(wsinit.RunBusyReporter(ctx, os.Getenv, os.Stderr))
	}
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr, wsinit.ExecCodeServer))
}

// extensionSyncTimeout bounds the one code-server --install-extension run, so a wedged
// install cannot keep the workspace from starting forever.
const extensionSyncTimeout = 10 * time.Minute

func run(args []string, getenv func(string) string, stdout, stderr io.Writer, execFn func([]string) error) int {
	cfg, err := wsinit.ParseArgs(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "codehub-init: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, extensionSyncTimeout)
	defer cancel()
	if err := wsinit.Prepare(ctx, cfg, getenv, stderr); err != nil {
		fmt.Fprintf(stderr, "codehub-init: %v\n", err)
		return 1
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "codehub-init: interrupted before starting code-server")
		return 1
	}
	argv := wsinit.CodeServerArgs(cfg)
	if cfg.DryRun {
		fmt.Fprintln(stdout, wsinit.ShellQuote(argv))
		return 0
	}
	stop()
	// The codehub extension and the busy reporter talk to the gateway with the
	// workspace's agent token (derived here when the environment lacks it).
	if wsinit.SetAgentToken(getenv) {
		wsinit.StartBusyReporter(func(k string) string {
			if v := os.Getenv(k); k == agent.EnvToken && v != "" {
				return v
			}
			return getenv(k)
		}, stderr)
	}
	if err := execFn(argv); err != nil {
		fmt.Fprintf(stderr, "codehub-init: %v\n", err)
		return 1
	}
	return 0
}
