package e2e

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/codehub-dev/codehub/internal/auth"
	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/backend/kubernetes"
	gw "github.com/codehub-dev/codehub/internal/gateway"
	"github.com/codehub-dev/codehub/internal/session"
	"github.com/codehub-dev/codehub/internal/testkit/kubetest"
	"github.com/codehub-dev/codehub/internal/users"
)

// The Kubernetes tests run the gateway in this process (on the test apiserver, with the
// operator's manager), where the local-backend tests run the codehub binary (harness_test.go).

// gatewayState is what a deployment's gateway replicas share: the local users (each with the
// password <name>-password), the session key and the sign-out revocations.
type gatewayState struct {
	users *users.Store
	codec *session.Codec
	rev   *session.Revocations
}

func newGatewayState(t *testing.T, names ...string) gatewayState {
	t.Helper()
	dir := t.TempDir()
	store, err := users.Open(filepath.Join(dir, "users.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range names {
		if err := store.Set(u, u+"-password", false); err != nil {
			t.Fatal(err)
		}
	}
	key, err := session.LoadOrCreateKey(filepath.Join(dir, "key"))
	if err != nil {
		t.Fatal(err)
	}
	codec, err := session.NewCodec(key, gw.CookieName(false))
	if err != nil {
		t.Fatal(err)
	}
	rev, err := session.LoadRevocations(filepath.Join(dir, "revoked.json"))
	if err != nil {
		t.Fatal(err)
	}
	return gatewayState{users: store, codec: codec, rev: rev}
}

// serve starts a gateway replica over be with cfg (its backend, users and session fields
// set from s; a silent logger unless cfg has one) on a loopback test server, both closed
// when the test ends.
func (s gatewayState) serve(t *testing.T, be backend.Backend, cfg gw.Config) (*gw.Gateway, *httptest.Server) {
	t.Helper()
	cfg.Backend, cfg.Passwords, cfg.Accounts, cfg.Codec, cfg.Revocations = be, auth.Local{Users: s.users}, s.users, s.codec, s.rev
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	g := gw.New(cfg)
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(func() {
		srv.Close()
		g.Shutdown(context.Background())
	})
	return g, srv
}

// kubernetesBackend is the kubernetes backend with cfg, on the test apiserver unless cfg
// brings its own client.
func kubernetesBackend(t *testing.T, cfg kubernetes.Config) *kubernetes.Backend {
	t.Helper()
	if cfg.Client == nil {
		kc, err := kubernetes.NewClient(kubetest.Config(t))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Client = kc
	}
	be, err := kubernetes.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return be
}
