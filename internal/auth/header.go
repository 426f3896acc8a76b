package auth

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/codehub-dev/codehub/internal/identity"
)

// DefaultHeaderName is the identity header Header trusts by default.
const DefaultHeaderName = "X-Remote-User"

// HeaderConfig configures Header.
type HeaderConfig struct {
	// Name of the identity header (default X-Remote-User).
	Name string
	// GroupsName, if set, is a comma-separated groups header from the same proxy.
	GroupsName string
	// TrustedCIDRs are the proxies whose header is believed, matched against the
	// direct TCP peer (r.RemoteAddr) only. Required; "0.0.0.0/0"-style catch-alls are
	// refused because they would let anyone pick their identity.
	TrustedCIDRs []string
	// LoginURL is returned by LoginURL ("{url}"/"{path}" filled in like Forward's);
	// empty means the gateway's own page.
	LoginURL  string
	PublicURL string
}

// Header is a RequestAuthenticator that trusts an identity header set by an
// authenticating reverse proxy, but only on connections whose direct peer is inside
// the configured CIDRs. X-Forwarded-For and friends are never consulted: they are
// written by the client as easily as the identity header itself.
type Header struct {
	providerData
	name, groups string
	prefixes     []netip.Prefix
}

// NewHeader validates cfg and returns a Header.
func NewHeader(cfg HeaderConfig) (*Header, error) {
	h := &Header{name: http.CanonicalHeaderKey(strings.TrimSpace(cfg.Name)), groups: http.CanonicalHeaderKey(strings.TrimSpace(cfg.GroupsName))}
	if h.name == "" {
		h.name = DefaultHeaderName
	}
	h.claims = claimNames{User: h.name, Groups: h.groups}
	for _, c := range cfg.TrustedCIDRs {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		p, err := netip.ParsePrefix(c)
		if err != nil {
			a, aerr := netip.ParseAddr(c)
			if aerr != nil {
				return nil, fmt.Errorf("header: trusted CIDR %q: %v", c, err)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Bits() == 0 {
			return nil, fmt.Errorf("header: trusted CIDR %q trusts every address", c)
		}
		h.prefixes = append(h.prefixes, p.Masked())
	}
	if len(h.prefixes) == 0 {
		return nil, errors.New("header: at least one trusted proxy CIDR is required")
	}
	if cfg.LoginURL != "" {
		login, err := newLoginTemplate(cfg.LoginURL, cfg.PublicURL)
		if err != nil {
			return nil, fmt.Errorf("header: %w", err)
		}
		h.login = login
	}
	return h, nil
}

func (*Header) Name() string { return "header" }

// TrustedAmong returns the first of addrs that a trusted CIDR contains.
func (h *Header) TrustedAmong(addrs []netip.Addr) (netip.Addr, bool) {
	for _, a := range addrs {
		if inPrefixList(a.Unmap().WithZone(""), h.prefixes) {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// Headers are the request headers the provider reads identity from: they must never
// reach a workspace (the gateway strips them with its own list).
func (h *Header) Headers() []string {
	out := []string{h.name}
	if h.groups != "" {
		out = append(out, h.groups)
	}
	return out
}

func inPrefixList(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Trusted reports whether the request's direct peer is a trusted proxy.
func (h *Header) Trusted(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	return inPrefixList(a.Unmap().WithZone(""), h.prefixes)
}

// Identify implements RequestAuthenticator. From an untrusted peer the header is
// ignored (ErrNoCredentials); from a trusted peer a malformed header is refused
// (ErrBadCredentials) and an absent one is ErrNoCredentials.
func (h *Header) Identify(r *http.Request) (identity.Identity, error) {
	if !h.Trusted(r) {
		return identity.Identity{}, ErrNoCredentials
	}
	id, err := h.claims.identity(headerSource(r.Header))
	var ce *claimError
	if errors.As(err, &ce) && ce.absent {
		return identity.Identity{}, ErrNoCredentials
	}
	if err != nil {
		return identity.Identity{}, fmt.Errorf("%w: malformed %s header", ErrBadCredentials, ce.name)
	}
	return id, nil
}
