package main

import (
	"strings"
	"testing"
)

func TestNginxTargets(t *testing.T) {
	ss := []Summary{
		{Name: "direct", WSP50: 0.08},
		{Name: "nginx", WSSat: 50000, CPUus: 16},
		{Name: "codehub", WSSat: 54000, WSP50: 0.15, CPUus: 40, Idle: &IdleMem{PerConn: map[int]float64{9800: 9.9}}},
	}
	got := strings.Join(nginxTargets(ss, []int{1000, 9800}, "codehub"), "\n")
	for _, want := range []string{
		"saturating msg/s at least nginx's: **met** (codehub 54000, nginx 50000: 1.08×)",
		"echo p50 at most direct + 0.08 ms: **met** (codehub 0.150 ms, direct 0.080 ms: +0.070 ms)",
		"2.0× nginx's, the session checked on every request: **not met** (codehub 40.0 µs, nginx 16.0 µs: 2.50×)",
		"30 KiB per connection at 9800: **met** (codehub 9.9 KiB)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if out := nginxTargets(ss[2:], nil, "codehub"); len(out) != 1 || !strings.Contains(out[0], "missing") {
		t.Errorf("without nginx: %q", out)
	}
}
