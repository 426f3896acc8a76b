// Package load drives the targets: wrk for HTTP, Go clients for WebSockets.
package load

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// WrkResult is what one wrk run reports.
type WrkResult struct {
	Requests    int64   `json:"requests"`
	Seconds     float64 `json:"seconds"`
	ReqPerSec   float64 `json:"req_per_sec"`
	P50ms       float64 `json:"p50_ms"`
	P99ms       float64 `json:"p99_ms"`
	BytesRead   float64 `json:"bytes_read"`
	Non2xx      int64   `json:"non_2xx"`
	SocketErrs  int64   `json:"socket_errors"`
	RawOutput   string  `json:"-"`
	CommandLine string  `json:"-"`
}

// Wrk runs wrk with --latency against url for d, with the given connections and headers.
func Wrk(ctx context.Context, wrk, url string, threads, conns int, d time.Duration, headers []string) (WrkResult, error) {
	args := []string{"-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns), "-d", fmt.Sprintf("%ds", int(d.Seconds())), "--latency", "--timeout", "5s"}
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	args = append(args, url)
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, wrk, args...).CombinedOutput()
	if err != nil {
		return WrkResult{RawOutput: string(out)}, fmt.Errorf("wrk %s: %v: %s", url, err, out)
	}
	r, err := ParseWrk(string(out))
	r.CommandLine = "wrk " + strings.Join(args, " ")
	return r, err
}

var (
	reTotal   = regexp.MustCompile(`(\d+) requests in ([\d.]+)(us|ms|s|m), ([\d.]+)([KMGT]?B) read`)
	reRPS     = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	rePct     = regexp.MustCompile(`^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s|m)\s*$`)
	reNon2xx  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	reSockErr = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

func toMs(v float64, unit string) float64 {
	switch unit {
	case "us":
		return v / 1000
	case "ms":
		return v
	case "s":
		return v * 1000
	case "m":
		return v * 60000
	}
	return v
}

func toBytes(v float64, unit string) float64 {
	switch unit {
	case "KB":
		return v * 1024
	case "MB":
		return v * 1024 * 1024
	case "GB":
		return v * 1024 * 1024 * 1024
	case "TB":
		return v * 1024 * 1024 * 1024 * 1024
	}
	return v
}

// ParseWrk reads wrk's text output (with --latency).
func ParseWrk(out string) (WrkResult, error) {
	r := WrkResult{RawOutput: out}
	m := reTotal.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("wrk: no totals in output: %s", out)
	}
	r.Requests, _ = strconv.ParseInt(m[1], 10, 64)
	d, _ := strconv.ParseFloat(m[2], 64)
	r.Seconds = toMs(d, m[3]) / 1000
	b, _ := strconv.ParseFloat(m[4], 64)
	r.BytesRead = toBytes(b, m[5])
	if m := reRPS.FindStringSubmatch(out); m != nil {
		r.ReqPerSec, _ = strconv.ParseFloat(m[1], 64)
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if m := rePct.FindStringSubmatch(sc.Text()); m != nil {
			v, _ := strconv.ParseFloat(m[2], 64)
			if m[1] == "50" {
				r.P50ms = toMs(v, m[3])
			} else {
				r.P99ms = toMs(v, m[3])
			}
		}
	}
	if m := reNon2xx.FindStringSubmatch(out); m != nil {
		r.Non2xx, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := reSockErr.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.ParseInt(s, 10, 64)
			r.SocketErrs += n
		}
	}
	return r, nil
}
