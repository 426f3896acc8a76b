package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/codehub-dev/codehub/internal/gateway"
	"github.com/codehub-dev/codehub/internal/metrics"
)

// The listeners the gateway process serves on, and the drain at shutdown.

func runServers(ctx context.Context, o Options, gw *gateway.Gateway, ln, metricsLn, agentLn net.Listener, m *metrics.Metrics, metricsAuth func(http.Handler) http.Handler) error {
	log := o.Logger
	srv := &http.Server{
		Handler: gw.Handler(),
		// No read/write timeouts: they would cut live WebSockets and long downloads.
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 2)
	go func() {
		if o.TLSCert != "" {
			errc <- srv.ServeTLS(ln, o.TLSCert, o.TLSKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	var msrv *http.Server
	if metricsLn != nil {
		mux := http.NewServeMux()
		mux.Handle("/metrics", metricsAuth(promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})))
		msrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- msrv.Serve(metricsLn) }()
	}
	var asrv *http.Server
	if agentLn != nil {
		asrv = &http.Server{Handler: gw.AgentHandler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- asrv.Serve(agentLn) }()
	}
	url := o.PublicURL
	stops := "operator (spec.idleTimeout)"
	if o.Backend == "local" {
		stops = "idle " + o.IdleTimeout.String() + ", max run time " + o.MaxRunTime.String()
	}
	log.Info("codehub gateway listening", "url", url, "backend", o.Backend, "state_dir", o.StateDir, "stops", stops)
	fmt.Fprintf(o.Stdout, "codehub is ready: open %s\n", url)

	sig, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var serveErr error
	select {
	case <-sig.Done():
		log.Info("shutting down")
	case serveErr = <-errc:
		log.Error("server failed", "err", serveErr)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), o.ShutdownTimeout)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx) // stop accepting; finish in-flight requests
	if msrv != nil {
		_ = msrv.Shutdown(shutdownCtx)
	}
	if asrv != nil {
		_ = asrv.Shutdown(shutdownCtx)
	}
	if err := gw.Shutdown(shutdownCtx); err != nil {
		log.Error("stopping workspaces", "err", err)
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	log.Info("stopped")
	return nil
}

func displayAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	if tcp.IP.IsUnspecified() {
		return net.JoinHostPort("localhost", strconv.Itoa(tcp.Port))
	}
	return tcp.String()
}
