// Package metrics defines the gateway's Prometheus metrics, served on their own listener
// so they are never exposed through the public port.
package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/codehub-dev/codehub/internal/backend"
)

// Metrics holds the collectors; the counters are pre-resolved so the hot path does no
// label lookups.
type Metrics struct {
	Registry      *prometheus.Registry
	Requests      *prometheus.CounterVec
	ProxyLatency  prometheus.Histogram
	WebSockets    prometheus.Gauge
	SpawnDuration prometheus.Histogram
	LoginFailures prometheus.Counter
	IdleStops     prometheus.Counter

	byClass [6]prometheus.Counter
}

// New registers the metrics. It needs nothing else, so it is built first and the parts
// that report into it (backend, gateway) get what they need.
func New() *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	m.Requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "codehub_http_requests_total", Help: "Requests served by the gateway, by status class.",
	}, []string{"code"})
	m.ProxyLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "codehub_proxy_duration_seconds", Help: "Time to the response headers of proxied requests.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
	})
	m.WebSockets = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "codehub_websockets_active", Help: "WebSocket connections currently proxied.",
	})
	m.SpawnDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "codehub_workspace_spawn_duration_seconds", Help: "Time from starting a workspace to its health check passing.",
		Buckets: prometheus.ExponentialBuckets(0.25, 2, 10),
	})
	m.LoginFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "codehub_login_failures_total", Help: "Failed sign-in attempts.",
	})
	m.IdleStops = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "codehub_idle_stops_total", Help: "Workspaces stopped for inactivity.",
	})
	m.Registry.MustRegister(m.Requests, m.ProxyLatency, m.WebSockets, m.SpawnDuration, m.LoginFailures, m.IdleStops,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for i, c := range []string{"1xx", "2xx", "3xx", "4xx", "5xx", "other"} {
		m.byClass[i] = m.Requests.WithLabelValues(c)
	}
	return m
}

// Watch reports b's workspaces by state, read at scrape time.
func (m *Metrics) Watch(b backend.Backend) {
	m.Registry.MustRegister(&workspaceCollector{b: b, desc: prometheus.NewDesc("codehub_workspaces", "Workspaces by state.", []string{"state"}, nil)})
}

// CountStatus counts one response by its status class.
func (m *Metrics) CountStatus(code int) {
	i := code/100 - 1
	if i < 0 || i > 4 {
		i = 5
	}
	m.byClass[i].Inc()
}

type workspaceCollector struct {
	b    backend.Backend
	desc *prometheus.Desc
}

func (c *workspaceCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *workspaceCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	list, err := c.b.List(ctx)
	if err != nil {
		return
	}
	counts := map[backend.State]int{}
	for _, s := range []backend.State{backend.StatePending, backend.StateStarting, backend.StateRunning, backend.StateStopping, backend.StateStopped, backend.StateFailed} {
		counts[s] = 0
	}
	for _, w := range list {
		counts[w.State]++
	}
	for s, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), string(s))
	}
}
