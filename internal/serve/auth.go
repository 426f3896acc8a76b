package serve

import (
	"fmt"

	"github.com/codehub-dev/codehub/internal/auth"
)

func checkAuthMode(mode string) error {
	switch mode {
	case "", "local", "forward", "header", "oidc":
		return nil
	}
	return fmt.Errorf("--auth must be local, forward, header or oidc, not %q", mode)
}

// newAuthenticators builds the configured provider. Local users (the sign-in form)
// always work besides it, so an admin can get in when the platform is down.
func newAuthenticators(o Options) (auth.RequestAuthenticator, auth.InteractiveAuthenticator, error) {
	switch o.Auth {
	case "forward":
		cfg := o.Forward
		cfg.Logger = o.Logger
		f, err := auth.NewForward(cfg)
		if err != nil {
			return nil, nil, fmt.Errorf("--auth forward: %w", err)
		}
		return f, nil, nil
	case "header":
		h, err := auth.NewHeader(o.Header)
		if err != nil {
			return nil, nil, fmt.Errorf("--auth header: %w", err)
		}
		return h, nil, nil
	case "oidc":
		cfg := o.OIDC
		cfg.Logger = o.Logger
		p, err := auth.NewOIDC(cfg)
		if err != nil {
			return nil, nil, fmt.Errorf("--auth oidc: %w", err)
		}
		return nil, p, nil
	}
	return nil, nil, nil
}
