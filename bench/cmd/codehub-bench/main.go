// Command codehub-bench puts codehub and the reverse proxies people would use instead in
// front of one small Go backend, runs the same load against each, interleaved and
// repeated, and writes docs/benchmarks.md with raw CSV/JSON and charts.
//
// It is run by scripts/bench.sh (make bench), which installs the peers and builds the
// binaries; every process it starts listens on 127.0.0.1 only and is stopped at the end.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/codehub-dev/codehub/bench/internal/elapsed"

	"github.com/codehub-dev/codehub/bench/internal/load"
	"github.com/codehub-dev/codehub/bench/internal/proc"
)

var progress = elapsed.Logger("bench")

// config is the load plan; --quick shrinks it for iteration.
type config struct {
	Rounds       int           `json:"rounds"`
	Duration     time.Duration `json:"duration_ns"`
	AssetDur     time.Duration `json:"asset_duration_ns"`
	Threads      int           `json:"wrk_threads"`
	Conns        int           `json:"wrk_conns_small"`
	AssetConns   int           `json:"wrk_conns_asset"`
	WSConns      int           `json:"ws_conns"`
	WSRate       float64       `json:"ws_fixed_rate_msgs_per_s"`
	WSDur        time.Duration `json:"ws_duration_ns"`
	IdleSteps    []int         `json:"idle_ws_steps"`
	WakeTrials   int           `json:"wake_trials"`
	IdleNote     string        `json:"idle_note,omitempty"`
	Quick        bool          `json:"quick"`
	StartedAtUTC string        `json:"started_at_utc"`
}

// Sample is one target's figures in one round.
type Sample struct {
	Round      int             `json:"round"`
	Target     string          `json:"target"`
	Small      load.WrkResult  `json:"small"`
	SmallTicks int64           `json:"small_cpu_ticks"`
	Asset      load.WrkResult  `json:"asset"`
	Echo       load.EchoResult `json:"ws_fixed_rate"`
	Saturate   load.EchoResult `json:"ws_saturating"`
	Errors     []string        `json:"errors,omitempty"`
}

// IdleMem is a target's RSS holding idle WebSockets.
type IdleMem struct {
	Target  string          `json:"target"`
	BaseKiB int64           `json:"base_rss_kib"`
	RSSKiB  map[int]int64   `json:"rss_kib"`
	PerConn map[int]float64 `json:"kib_per_conn"`
	Error   string          `json:"error,omitempty"`
}

// Results is everything one run measured; it is the raw JSON.
type Results struct {
	Config  config    `json:"config"`
	Machine string    `json:"machine"`
	Targets []*Target `json:"targets"`
	Samples []Sample  `json:"samples"`
	Idle    []IdleMem `json:"idle_ws"`
	Storms  []Storm   `json:"sign_in_storms,omitempty"`
	Wake    Wake      `json:"wake"`
	Browser Browser   `json:"browser"`
	Elapsed float64   `json:"elapsed_s"`
	Cmd     string    `json:"command"`
	Skipped []string  `json:"skipped_targets,omitempty"`
}

func main() {
	var e env
	var outDir string
	var quick bool
	flag.StringVar(&e.benchd, "benchd", "bin/benchd", "benchd binary")
	flag.StringVar(&e.codehub, "codehub", "bin/codehub", "codehub binary")
	flag.StringVar(&e.codehubBaseline, "codehub-baseline", "", "optional second codehub binary (built from another revision) run as its own target in the same rounds")
	flag.StringVar(&e.baselineNote, "codehub-baseline-note", "", "what the baseline binary is, for the report (e.g. the git revision)")
	flag.StringVar(&e.chromium, "chromium", "", "Chromium for the user's-wait benchmark (skipped when empty)")
	flag.StringVar(&e.nginx, "nginx", "nginx", "nginx binary")
	flag.StringVar(&e.wrk, "wrk", "wrk", "wrk binary")
	flag.StringVar(&e.node, "node", "node", "node for configurable-http-proxy")
	flag.StringVar(&e.chp, "chp", "", "configurable-http-proxy script")
	flag.StringVar(&e.caddy, "caddy", "caddy", "caddy binary")
	flag.StringVar(&e.oauth2Proxy, "oauth2-proxy", "oauth2-proxy", "oauth2-proxy binary")
	flag.StringVar(&e.codeServer, "code-server", os.Getenv("CODEHUB_CODE_SERVER"), "real code-server for the wake latency; empty skips it")
	flag.StringVar(&outDir, "out", "docs", "directory for benchmarks.md and benchmarks/")
	flag.BoolVar(&quick, "quick", false, "one short round, 1k idle WebSockets: for iterating, not for the report")
	fromJSON := flag.String("from-json", "", "only rewrite the report (markdown, CSV, charts) from this results.json; runs nothing")
	only := flag.String("only", "", "run one part only and print its results as JSON instead of writing the report: browser, small, ws or idle (sections.go)")
	flag.Parse()
	if *fromJSON != "" {
		b, err := os.ReadFile(*fromJSON)
		if err != nil {
			fatal(err)
		}
		var res Results
		if err := json.Unmarshal(b, &res); err != nil {
			fatal(err)
		}
		if err := writeReport(outDir, &res); err != nil {
			fatal(err)
		}
		progress("rewrote %s from %s", filepath.Join(outDir, "benchmarks.md"), *fromJSON)
		return
	}

	cfg := config{Rounds: 3, Duration: 5 * time.Second, AssetDur: 3 * time.Second, Threads: 2, Conns: 50, AssetConns: 4,
		WSConns: 100, WSRate: 1000, WSDur: 3 * time.Second, IdleSteps: []int{1000, 5000, 10000}, WakeTrials: 3,
		StartedAtUTC: time.Now().UTC().Format(time.RFC3339)}
	if quick {
		cfg.Rounds, cfg.Duration, cfg.AssetDur, cfg.WSDur, cfg.IdleSteps, cfg.WakeTrials, cfg.Quick = 1, 2*time.Second, 2*time.Second, 1*time.Second, []int{1000}, 1, true
	}
	for _, p := range []*string{&e.benchd, &e.codehub, &e.codehubBaseline, &e.nginx, &e.wrk, &e.node, &e.caddy, &e.oauth2Proxy} {
		if abs, err := exec.LookPath(*p); err == nil {
			*p, _ = filepath.Abs(abs)
		}
	}
	if limit := raiseNofile(); limit > 0 {
		// A proxy holds two descriptors per proxied WebSocket (client and backend side);
		// a single-process proxy cannot hold more than the open-files limit allows.
		top := cfg.IdleSteps[len(cfg.IdleSteps)-1]
		if maxWS := int((limit-400)/2) / 100 * 100; maxWS < top {
			progress("open-files hard limit %d: the top idle-WebSocket step is %d instead of %d", limit, maxWS, top)
			cfg.IdleSteps[len(cfg.IdleSteps)-1] = maxWS
			cfg.IdleNote = fmt.Sprintf("The top step is %d, not %d: a proxy holds two descriptors per proxied WebSocket, and this machine's open-files hard limit is %d (it cannot be raised here without CAP_SYS_RESOURCE).", maxWS, top, limit)
		}
	}

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	work, err := os.MkdirTemp("", "codehub-bench-")
	if err == nil {
		// As root, codehub runs the workspace (benchd) as its own unix uid: it must reach
		// its directory under the state dir here.
		err = os.Chmod(work, 0o755)
	}
	if err != nil {
		fatal(err)
	}
	e.work = work
	p := &procs{dir: work}
	res := &Results{Config: cfg, Machine: machine(), Cmd: strings.Join(os.Args, " ")}
	e.skipped = &res.Skipped
	progress("machine: %s", res.Machine)
	progress("work dir (logs, configs): %s", work)

	if *only == "browser" {
		b := measureBrowser(ctx, e)
		os.Stdout.Write(mustJSON(b))
		progress("work dir kept: %s", work)
		return
	}
	if isSection(*only) {
		s, err := runSection(ctx, e, p, cfg, *only)
		p.stopAll()
		if err != nil {
			fatal(err)
		}
		os.Stdout.Write(mustJSON(s))
		progress("work dir kept: %s", work)
		return
	}
	err = run(ctx, e, p, cfg, res)
	p.stopAll()
	if err != nil {
		fatal(err)
	}
	if e.codeServer != "" {
		res.Wake = measureWake(ctx, e, cfg.WakeTrials)
	} else {
		res.Wake.Skipped = "no real code-server given (--code-server / CODEHUB_CODE_SERVER)"
	}
	res.Browser = measureBrowser(ctx, e)
	res.Elapsed = elapsed.Since().Seconds()
	if err := writeReport(outDir, res); err != nil {
		fatal(err)
	}
	progress("done in %.0fs; wrote %s", res.Elapsed, filepath.Join(outDir, "benchmarks.md"))
	os.RemoveAll(work)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "codehub-bench:", err)
	os.Exit(1)
}

func raiseNofile() uint64 {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil {
		want := uint64(200000)
		if l.Max < want {
			l.Max = want
		}
		l.Cur = l.Max
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l) != nil {
			syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l)
			l.Cur = l.Max
			syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
		}
		syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l)
		progress("open files limit: %d", l.Cur)
		return l.Cur
	}
	return 0
}

func run(ctx context.Context, e env, p *procs, cfg config, res *Results) error {
	progress("starting backend, verifier and targets")
	_, targets, cookie, err := setup(ctx, e, p)
	if err != nil {
		return err
	}
	res.Targets = targets
	hdr := []string{"Cookie: " + cookie}
	// Sanity: every target proxies the small response, the asset and a WebSocket echo.
	for _, t := range targets {
		if err := check(ctx, e.wrk, t, cookie); err != nil {
			return fmt.Errorf("%s: %w", t.Name, err)
		}
	}
	progress("all %d targets answer the small response, the asset and a WebSocket echo", len(targets))

	for round := 1; round <= cfg.Rounds; round++ {
		for _, t := range targets {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s := Sample{Round: round, Target: t.Name}
			pids := t.Pids()
			before := proc.SumCPUTicks(pids)
			s.Small, err = load.Wrk(ctx, e.wrk, t.Base+"/small", cfg.Threads, cfg.Conns, cfg.Duration, hdr)
			s.SmallTicks = proc.SumCPUTicks(pids) - before
			if err != nil {
				s.Errors = append(s.Errors, err.Error())
			}
			s.Asset, err = load.Wrk(ctx, e.wrk, t.Base+"/asset", cfg.Threads, cfg.AssetConns, cfg.AssetDur, hdr)
			if err != nil {
				s.Errors = append(s.Errors, err.Error())
			}
			ws := wsTarget(t, cookie)
			s.Echo, err = load.Echo(ctx, ws, cfg.WSConns, cfg.WSRate, cfg.WSDur)
			if err != nil {
				s.Errors = append(s.Errors, err.Error())
			}
			s.Saturate, err = load.Echo(ctx, ws, cfg.WSConns, 0, cfg.WSDur)
			if err != nil {
				s.Errors = append(s.Errors, err.Error())
			}
			cpuPerReq := 0.0
			if s.Small.Requests > 0 {
				cpuPerReq = float64(s.SmallTicks) * 1e6 / proc.ClockTick / float64(s.Small.Requests)
			}
			progress("round %d/%d %-24s %8.0f req/s p50 %6.2fms p99 %6.2fms cpu %6.1fµs/req | asset %7.1f MiB/s | ws p50 %5.2fms p99 %6.2fms sat %7.0f msg/s%s",
				round, cfg.Rounds, t.Name, s.Small.ReqPerSec, s.Small.P50ms, s.Small.P99ms, cpuPerReq,
				s.Asset.BytesRead/s.Asset.Seconds/(1<<20), s.Echo.P50ms, s.Echo.P99ms, s.Saturate.MsgPerSec, errNote(s))
			res.Samples = append(res.Samples, s)
		}
	}

	for _, t := range targets {
		if t.Name == "direct" {
			continue
		}
		res.Idle = append(res.Idle, idleMem(ctx, t, cookie, cfg.IdleSteps))
	}
	// Last: the storm leaves the bench user throttled on that gateway for minutes.
	for _, t := range targets {
		if t.Name == "codehub" || t.Name == baselineName {
			res.Storms = append(res.Storms, measureStorm(ctx, t, cookie))
		}
	}
	return nil
}

func errNote(s Sample) string {
	var n []string
	if s.Small.Non2xx > 0 || s.Small.SocketErrs > 0 {
		n = append(n, fmt.Sprintf("small non2xx=%d sockerr=%d", s.Small.Non2xx, s.Small.SocketErrs))
	}
	if s.Asset.Non2xx > 0 || s.Asset.SocketErrs > 0 {
		n = append(n, fmt.Sprintf("asset non2xx=%d sockerr=%d", s.Asset.Non2xx, s.Asset.SocketErrs))
	}
	if len(s.Errors) > 0 {
		n = append(n, strings.Join(s.Errors, "; "))
	}
	if len(n) == 0 {
		return ""
	}
	return "  !! " + strings.Join(n, " | ")
}

func wsTarget(t *Target, cookie string) load.WSTarget {
	return load.WSTarget{URL: "ws" + strings.TrimPrefix(t.Base, "http") + "/ws", Origin: t.Base, Cookie: cookie}
}

func idleMem(ctx context.Context, t *Target, cookie string, steps []int) IdleMem {
	m := IdleMem{Target: t.Name, RSSKiB: map[int]int64{}, PerConn: map[int]float64{}}
	pids := t.Pids()
	time.Sleep(2 * time.Second)
	m.BaseKiB = proc.SumRSSKiB(pids)
	var ic load.IdleConns
	defer func() {
		ic.Close()
		time.Sleep(2 * time.Second) // let the target drop them before the next one
	}()
	for _, n := range steps {
		if err := ic.Open(ctx, wsTarget(t, cookie), n-ic.Len()); err != nil {
			m.Error = fmt.Sprintf("at %d connections: %v", ic.Len(), err)
			progress("idle ws %-24s %s", t.Name, m.Error)
			return m
		}
		time.Sleep(2 * time.Second)
		rss := proc.SumRSSKiB(t.Pids())
		m.RSSKiB[n] = rss
		m.PerConn[n] = float64(rss-m.BaseKiB) / float64(n)
		progress("idle ws %-24s %5d conns: RSS %7d KiB (base %d) = %5.1f KiB/conn", t.Name, n, rss, m.BaseKiB, m.PerConn[n])
	}
	if *idleHold > 0 {
		progress("idle ws %-24s holding %d connections for %s", t.Name, ic.Len(), *idleHold)
		time.Sleep(*idleHold)
	}
	_ = pids
	return m
}

func check(ctx context.Context, wrk string, t *Target, cookie string) error {
	for _, path := range []string{"/small", "/asset"} {
		r, err := load.Wrk(ctx, wrk, t.Base+path, 1, 1, time.Second, []string{"Cookie: " + cookie})
		_ = r
		if err != nil {
			return err
		}
		if r.Requests == 0 || r.Non2xx > 0 {
			return fmt.Errorf("GET %s: %d requests, %d non-2xx", path, r.Requests, r.Non2xx)
		}
	}
	_, err := load.Echo(ctx, wsTarget(t, cookie), 1, 0, 200*time.Millisecond)
	return err
}

func machine() string {
	var parts []string
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				parts = append(parts, strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":")))
				break
			}
		}
	}
	if out, err := exec.Command("nproc").Output(); err == nil {
		parts = append(parts, strings.TrimSpace(string(out))+" CPUs")
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(strings.SplitN(string(b), "\n", 2)[0], "MemTotal: %d kB", &kb)
		parts = append(parts, fmt.Sprintf("%.0f GiB RAM", float64(kb)/(1<<20)))
	}
	if out, err := exec.Command("uname", "-sr").Output(); err == nil {
		parts = append(parts, strings.TrimSpace(string(out)))
	}
	if b, err := os.ReadFile("/etc/debian_version"); err == nil {
		parts = append(parts, "Debian "+strings.TrimSpace(string(b)))
	}
	if out, err := exec.Command("go", "env", "GOVERSION").Output(); err == nil {
		parts = append(parts, strings.TrimSpace(string(out)))
	}
	return strings.Join(parts, ", ")
}

func mustJSON(v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic(err)
	}
	return b
}
