package auth

import (
	"context"
	"errors"

	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/users"
)

// Local authenticates against the gateway's users file.
type Local struct{ Users *users.Store }

func (Local) Name() string { return "local" }

// Exists implements PasswordAuthenticator.
func (l Local) Exists(user string) bool {
	_, err := l.Users.Lookup(user)
	return err == nil
}

func (l Local) Authenticate(_ context.Context, user, password string) (identity.Identity, error) {
	u, err := l.Users.Verify(user, password)
	if errors.Is(err, users.ErrBadCredentials) {
		return identity.Identity{}, ErrBadCredentials
	}
	if err != nil {
		return identity.Identity{}, err
	}
	return identity.Identity{User: u.Name, Admin: u.Admin, Local: true}, nil
}
