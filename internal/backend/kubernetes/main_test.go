package kubernetes_test

import (
	"testing"

	"github.com/codehub-dev/codehub/internal/testkit/kubetest"
)

func TestMain(m *testing.M) { kubetest.Main(m) }
