package kubernetes_test

import (
	"os"
	"testing"

	"github.com/codehub-dev/codehub/internal/controller/ctrltest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	ctrltest.Stop()
	os.Exit(code)
}
