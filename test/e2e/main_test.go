package e2e

import (
	"os"
	"testing"

	"github.com/codehub-dev/codehub/internal/controller/ctrltest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	ctrltest.Stop() // the shared apiserver of the kubernetes test, if it started
	os.Exit(code)
}
