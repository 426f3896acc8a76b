// Package auth turns credentials into identities. One provider per file, behind small
// interfaces: the gateway asks a PasswordAuthenticator for the sign-in form.
package auth

import (
	"context"
	"errors"

	"github.com/codehub-dev/codehub/internal/identity"
)

// ErrBadCredentials is the only error a caller shows to the user on a failed sign-in,
// so it never reveals whether the user name exists.
var ErrBadCredentials = errors.New("wrong user name or password")

// PasswordAuthenticator verifies a user name and password (the sign-in form).
type PasswordAuthenticator interface {
	Name() string
	Authenticate(ctx context.Context, user, password string) (identity.Identity, error)
}
