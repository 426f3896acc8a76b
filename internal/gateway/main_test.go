package gateway

import (
	"os"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/codehub-dev/codehub/internal/users"
)

func TestMain(m *testing.M) {
	// Every fixture signs three users in; the default bcrypt cost would dominate the run.
	users.Cost = bcrypt.MinCost
	os.Exit(m.Run())
}
