package serve

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/codehub-dev/codehub/internal/auth"
)

// hostAddrs are the loopback ranges' representatives and every interface address.
func hostAddrs() []netip.Addr {
	out := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.255.255.254"), netip.IPv6Loopback()}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out
}

// providerHeaders are the request headers the configured providers read identity from:
// the gateway strips them before any workspace, like its built-in list.
func providerHeaders(o Options) []string {
	var out []string
	switch o.Auth {
	case "header":
		out = append(out, o.Header.Name, o.Header.GroupsName)
	case "forward":
		out = append(out, o.Forward.Headers...)
	}
	kept := out[:0]
	for _, h := range out {
		if h != "" {
			kept = append(kept, h)
		}
	}
	return kept
}

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
	req, inter, err := newProvider(o)
	if err != nil {
		return nil, nil, fmt.Errorf("--auth %s: %w", o.Auth, err)
	}
	return req, inter, nil
}

// newProvider is newAuthenticators without the "--auth <mode>:" on its errors.
func newProvider(o Options) (auth.RequestAuthenticator, auth.InteractiveAuthenticator, error) {
	o.Forward.Logger, o.OIDC.Logger = o.Logger, o.Logger // o is this call's copy
	switch o.Auth {
	case "forward":
		f, err := auth.NewForward(o.Forward)
		return f, nil, err
	case "header":
		h, err := auth.NewHeader(o.Header)
		if err != nil {
			return nil, nil, err
		}
		if o.Backend == "local" {
			// Every workspace runs on this host: a trusted address of this host would let
			// any workspace terminal claim to be anyone.
			if a, ok := h.TrustedAmong(hostAddrs()); ok {
				return nil, nil, fmt.Errorf("--header-trusted-cidrs contains %s, an address of this host, where the local backend runs every workspace: any workspace could send the header. Trust only the proxy's address on another host, or use --auth forward", a)
			}
		}
		return h, nil, nil
	case "oidc":
		p, err := auth.NewOIDC(o.OIDC)
		return nil, p, err
	}
	return nil, nil, nil
}
