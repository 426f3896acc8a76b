package main

import "fmt"

// nginxTargets checks name's proxy figures against the targets set relative to nginx and
// to the direct path (issue #16): the WebSocket path at nginx's level, the session check
// within 2× nginx's CPU, and little memory per idle WebSocket.
func nginxTargets(ss []Summary, steps []int, name string) []string {
	ch, ngx, direct := find(ss, name), find(ss, "nginx"), find(ss, "direct")
	if ch == nil || ngx == nil || direct == nil {
		return []string{"codehub, nginx or the direct path is missing from this run"}
	}
	mark := func(ok bool) string {
		if ok {
			return "**met**"
		}
		return "**not met**"
	}
	out := []string{
		fmt.Sprintf("WebSocket saturating msg/s at least nginx's: %s (%s %.0f, nginx %.0f: %.2f×).",
			mark(ch.WSSat >= ngx.WSSat), name, ch.WSSat, ngx.WSSat, ch.WSSat/ngx.WSSat),
		fmt.Sprintf("WebSocket echo p50 at most direct + 0.08 ms: %s (%s %.3f ms, direct %.3f ms: +%.3f ms).",
			mark(ch.WSP50 <= direct.WSP50+0.08), name, ch.WSP50, direct.WSP50, ch.WSP50-direct.WSP50),
		fmt.Sprintf("Proxy CPU per request at most 2.0× nginx's, the session checked on every request: %s (%s %.1f µs, nginx %.1f µs: %.2f×).",
			mark(ch.CPUus <= 2*ngx.CPUus), name, ch.CPUus, ngx.CPUus, ch.CPUus/ngx.CPUus),
	}
	if len(steps) > 0 && ch.Idle != nil {
		n := steps[len(steps)-1]
		if kib, ok := ch.Idle.PerConn[n]; ok {
			out = append(out, fmt.Sprintf("Idle WebSocket at most 30 KiB per connection at %d: %s (%s %.1f KiB).", n, mark(kib <= 30), name, kib))
		}
	}
	return out
}
