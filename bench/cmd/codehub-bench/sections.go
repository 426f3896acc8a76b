package main

// One part of the benchmark on its own (--only small|ws|idle), for profiling and for
// before/after comparisons while working on one path: the same targets and load as the
// full run, interleaved over --rounds, printed as JSON instead of written to the report.

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/codehub-dev/codehub/bench/internal/load"
	"github.com/codehub-dev/codehub/bench/internal/proc"
)

var (
	onlyTargets = flag.String("targets", "", "with --only small|ws|idle: comma-separated target names to measure (default: all)")
	onlyRounds  = flag.Int("rounds", 3, "with --only small|ws: rounds, each interleaving the targets")
	onlyIdle    = flag.String("idle-steps", "", "with --only idle: comma-separated connection counts (default: the full run's)")
	idleHold    = flag.Duration("idle-hold", 0, "with --only idle: keep the last step's connections open this long (to take profiles)")
)

// Section is what --only small|ws|idle measured.
type Section struct {
	Section string    `json:"section"`
	Cmd     string    `json:"command"`
	Machine string    `json:"machine"`
	Samples []Sample  `json:"samples,omitempty"`
	Idle    []IdleMem `json:"idle_ws,omitempty"`
}

func isSection(name string) bool { return name == "small" || name == "ws" || name == "idle" }

func runSection(ctx context.Context, e env, p *procs, cfg config, name string) (*Section, error) {
	progress("starting backend, verifier and targets")
	_, all, cookie, err := setup(ctx, e, p)
	if err != nil {
		return nil, err
	}
	var targets []*Target
	want := strings.Split(*onlyTargets, ",")
	for _, t := range all {
		if *onlyTargets == "" || slices.Contains(want, t.Name) {
			targets = append(targets, t)
		}
	}
	if len(targets) == 0 {
		return nil, fmt.Errorf("--targets %q matches none of the targets", *onlyTargets)
	}
	for _, t := range targets {
		if t.Name != "direct" {
			progress("target %-20s pids %v", t.Name, t.Pids())
		}
	}
	s := &Section{Section: name, Cmd: strings.Join(os.Args, " "), Machine: machine()}
	hdr := []string{"Cookie: " + cookie}
	if name == "idle" {
		steps := cfg.IdleSteps
		if *onlyIdle != "" {
			steps = nil
			for _, f := range strings.Split(*onlyIdle, ",") {
				n, err := strconv.Atoi(f)
				if err != nil {
					return nil, fmt.Errorf("--idle-steps: %w", err)
				}
				steps = append(steps, n)
			}
		}
		for _, t := range targets {
			if t.Name != "direct" {
				s.Idle = append(s.Idle, idleMem(ctx, t, cookie, steps))
			}
		}
		return s, nil
	}
	for round := 1; round <= *onlyRounds; round++ {
		for _, t := range targets {
			if ctx.Err() != nil {
				return s, ctx.Err()
			}
			smp := Sample{Round: round, Target: t.Name}
			var err error
			if name == "small" {
				pids := t.Pids()
				before := proc.SumCPUTicks(pids)
				smp.Small, err = load.Wrk(ctx, e.wrk, t.Base+"/small", cfg.Threads, cfg.Conns, cfg.Duration, hdr)
				smp.SmallTicks = proc.SumCPUTicks(pids) - before
				cpu := 0.0
				if smp.Small.Requests > 0 {
					cpu = float64(smp.SmallTicks) * 1e6 / proc.ClockTick / float64(smp.Small.Requests)
				}
				progress("round %d/%d %-24s %8.0f req/s p50 %6.2fms cpu %6.1fµs/req", round, *onlyRounds, t.Name, smp.Small.ReqPerSec, smp.Small.P50ms, cpu)
			} else {
				ws := wsTarget(t, cookie)
				if smp.Echo, err = load.Echo(ctx, ws, cfg.WSConns, cfg.WSRate, cfg.WSDur); err == nil {
					smp.Saturate, err = load.Echo(ctx, ws, cfg.WSConns, 0, cfg.WSDur)
				}
				progress("round %d/%d %-24s ws p50 %5.3fms p99 %6.3fms sat %7.0f msg/s", round, *onlyRounds, t.Name, smp.Echo.P50ms, smp.Echo.P99ms, smp.Saturate.MsgPerSec)
			}
			if err != nil {
				smp.Errors = append(smp.Errors, err.Error())
			}
			s.Samples = append(s.Samples, smp)
		}
	}
	return s, nil
}
