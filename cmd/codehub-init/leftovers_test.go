package main

import (
	"testing"

	"github.com/codehub-dev/codehub/internal/testkit"
)

// TestMain fails the package when a test left code-server or codehub-init running.
func TestMain(m *testing.M) { testkit.Main(m) }
