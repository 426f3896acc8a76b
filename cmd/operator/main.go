// Command operator reconciles codehub.io Workspaces into running code-server workspaces.
// This file only wires flags to the manager; behaviour lives in internal/controller.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	codehubv1 "github.com/codehub-dev/codehub/api/v1alpha1"
	"github.com/codehub-dev/codehub/internal/controller"
	"github.com/codehub-dev/codehub/internal/workspacebuild"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "operator:", err)
		os.Exit(1)
	}
}

func run() error {
	o := workspacebuild.DefaultOptions()
	var (
		metricsAddr  = flag.String("metrics-bind-address", ":8080", "where /metrics is served (\"0\" disables)")
		probeAddr    = flag.String("health-probe-bind-address", ":8081", "where /healthz and /readyz are served")
		leaderElect  = flag.Bool("leader-elect", true, "elect a leader so only one replica reconciles")
		leaderNS     = flag.String("leader-election-namespace", "", "namespace of the leader lease (the pod's namespace when empty)")
		namespaces   = flag.String("watch-namespaces", "", "comma-separated namespaces to reconcile (all when empty)")
		homeSize     = flag.String("default-home-size", o.HomeSize.String(), "size of a home PVC whose Workspace does not say")
		gatewaySel   = flag.String("gateway-selector", labels.FormatLabels(o.GatewaySelector), "labels of the gateway pods the NetworkPolicy admits")
		initCommand  = flag.String("init-command", strings.Join(o.InitCommand, " "), "entrypoint of the workspace container")
		logLevel     = flag.String("log-level", "info", "debug, info, warn or error")
		defaultUID   = flag.Int64("default-uid", o.UID, "uid for users whose uid the platform does not know")
		defaultGID   = flag.Int64("default-gid", o.GID, "gid for users whose gid the platform does not know")
		concurrency  = flag.Int("max-concurrent-reconciles", 4, "Workspaces reconciled in parallel")
		defaultImage = flag.String("default-image", o.Image, "workspace image when a Workspace does not set one")
		gatewayURL   = flag.String("gateway-url", "", "the gateway as workspace pods reach it (e.g. http://codehub-gateway.<ns>.svc:8080): pods get CODEHUB_AGENT_URL for the codehub extension and report busy CPU there; empty: none")
		publicURL    = flag.String("public-url", "", "the gateway as users' browsers reach it (CODEHUB_PUBLIC_URL: the extension's Sign out and Open dashboard)")
		origins      = flag.String("workspace-origins", "", "the gateway's --workspace-origins base host (e.g. vscode.example.com): workspace pods get VSCODE_PROXY_URI=//p{{port}}--<workspace>.<host>/ for VS Code's Ports view; empty: none")
	)
	flag.Parse()

	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
		return err
	}
	logger := logr.FromSlogHandler(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	ctrl.SetLogger(logger)
	klog.SetLogger(logger)

	size, err := resource.ParseQuantity(*homeSize)
	if err != nil {
		return fmt.Errorf("-default-home-size: %w", err)
	}
	sel, err := labels.ConvertSelectorToLabelsMap(*gatewaySel)
	if err != nil {
		return fmt.Errorf("-gateway-selector: %w", err)
	}
	o.Image, o.HomeSize, o.GatewaySelector, o.UID, o.GID = *defaultImage, size, sel, *defaultUID, *defaultGID
	o.InitCommand = strings.Fields(*initCommand)
	if o.WorkspaceOrigins = strings.ToLower(*origins); o.WorkspaceOrigins != "" {
		if errs := validation.IsDNS1123Subdomain(o.WorkspaceOrigins); len(errs) > 0 {
			return fmt.Errorf("-workspace-origins %q: a host name without scheme, port or path: %s", *origins, strings.Join(errs, "; "))
		}
	}
	for name, v := range map[string]string{"gateway-url": *gatewayURL, "public-url": *publicURL} {
		if u, err := url.Parse(v); v != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
			return fmt.Errorf("-%s %q: an http(s) URL", name, v)
		}
	}
	o.GatewayURL, o.PublicURL = strings.TrimSuffix(*gatewayURL, "/"), *publicURL

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := codehubv1.AddToScheme(scheme); err != nil {
		return err
	}

	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsserver.Options{BindAddress: *metricsAddr},
		HealthProbeBindAddress:        *probeAddr,
		LeaderElection:                *leaderElect,
		LeaderElectionID:              "codehub-operator.codehub.io",
		LeaderElectionNamespace:       *leaderNS,
		LeaderElectionReleaseOnCancel: true,
		Cache:                         controller.CacheOptions(splitList(*namespaces)),
	})
	if err != nil {
		return err
	}
	r := &controller.Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: mgr.GetEventRecorder(workspacebuild.FieldOwner), Options: o, MaxConcurrentReconciles: *concurrency}
	if err := r.SetupWithManager(mgr); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	logger.Info("starting", "watchNamespaces", *namespaces, "leaderElection", *leaderElect)
	return mgr.Start(ctrl.SetupSignalHandler())
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
