// Package ctrltest runs the operator's controller against the shared envtest apiserver
// (RunManager). The apiserver itself, and the helpers around it, are testkit/kubetest's;
// the names below forward there so that branches written before the move still compile.
package ctrltest

import (
	"testing"
	"time"

	"github.com/codehub-dev/codehub/internal/testkit"
	"github.com/codehub-dev/codehub/internal/testkit/kubetest"
)

// Deprecated: each is kubetest's function of the same name; use kubetest.
var (
	Scheme, Config, Stop, Client, Namespace   = kubetest.Scheme, kubetest.Config, kubetest.Stop, kubetest.Client, kubetest.Namespace
	Eventually, MarkAvailable, MarkScaledDown = kubetest.Eventually, kubetest.MarkAvailable, kubetest.MarkScaledDown
	Kubeconfig                                = kubetest.Kubeconfig
)

// EventuallyWithin is testkit.Eventually with its old argument order.
//
// Deprecated: use testkit.Eventually.
func EventuallyWithin(t testing.TB, within time.Duration, what string, cond func() error) {
	t.Helper()
	testkit.Eventually(t, within, what, cond)
}
