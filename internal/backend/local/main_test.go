package local

import (
	"testing"

	"github.com/codehub-dev/codehub/internal/testkit"
)

// TestMain fails the package when a test left a workspace process running.
func TestMain(m *testing.M) { testkit.Main(m) }
