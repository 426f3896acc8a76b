package auth

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/codehub-dev/codehub/internal/identity"
)

// Members names people: the listed users and the members of the listed groups (entries
// are trimmed of spaces; blank ones name no one). It is the one rule behind the
// gateway's admins (--admin-users, --admin-groups) and OIDC's allow-list
// (--oidc-allowed-users, --oidc-allowed-groups). Providers report groups; who is an
// admin is the gateway's decision alone.
type Members struct{ Users, Groups []string }

// Empty reports whether m names no one.
func (m Members) Empty() bool {
	return !slices.ContainsFunc(slices.Concat(m.Users, m.Groups), func(s string) bool { return strings.TrimSpace(s) != "" })
}

// Has reports whether id is a listed user or in a listed group.
func (m Members) Has(id identity.Identity) bool {
	if listed(m.Users, id.User) {
		return true
	}
	for _, g := range id.Groups {
		if listed(m.Groups, g) {
			return true
		}
	}
	return false
}

func listed(list []string, name string) bool {
	for _, x := range list {
		if x = strings.TrimSpace(x); x != "" && x == name {
			return true
		}
	}
	return false
}

// identityHeaders are request headers an upstream might read as "who is this" (or
// the credentials that say it), canonical.
var identityHeaders = []string{
	"Authorization", "Proxy-Authorization",
	"X-Remote-User", "X-Remote-Group", "Remote-User", "Remote-Groups",
	"X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Groups", "X-Forwarded-Preferred-Username",
	"X-Forwarded-Access-Token", "X-Auth-Request-User", "X-Auth-Request-Email", "X-Auth-Request-Groups",
	"X-Auth-Request-Access-Token", "X-User-Id", "X-User-Group-Ids", "X-Unix-Uid", "X-Unix-Gid",
	"X-V3io-Session-Key", "X-Codehub-User", "X-Real-Ip",
}

// IdentityHeaders returns the one list of identity-looking request headers (a copy):
// a client must never assert them, so the gateway removes them from every request
// before a workspace, and Forward refuses to forward any of them to its verifier but
// the credentials it is there to verify (Authorization, Proxy-Authorization).
func IdentityHeaders() []string { return slices.Clone(identityHeaders) }

// containsFold reports whether list holds name, in any case.
func containsFold(list []string, name string) bool {
	return slices.ContainsFunc(list, func(h string) bool { return h != "" && strings.EqualFold(h, name) })
}

// maxNextLen bounds a local redirect target.
const maxNextLen = 2048

// LocalPath returns next if it is a path on this gateway, otherwise "/". It is the one
// gate between a ?next= parameter (or a page's own URL) and a redirect, for the
// gateway's pages and every provider's login URL alike, so it refuses anything a
// browser could read as another origin: schemes, "//host", "/\host", encoded or
// control-character variants of those. It also refuses the gateway's own sign-in and
// sign-out pages, which would loop.
func LocalPath(next string) string {
	if next == "" || len(next) > maxNextLen || next[0] != '/' || checkText(next) != nil || strings.ContainsRune(next, '\\') {
		return "/"
	}
	if len(next) > 1 && next[1] == '/' {
		return "/"
	}
	// Decoded forms must not hide a second slash, backslash or a scheme either.
	if dec, err := url.PathUnescape(next); err != nil || strings.HasPrefix(dec, "//") || strings.ContainsAny(dec, "\\\x00\r\n\t") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	if strings.HasPrefix(u.Path, "/_codehub/login") || strings.HasPrefix(u.Path, "/_codehub/logout") {
		return "/"
	}
	return next
}

// providerData is what the request providers share, built once by their constructors
// (oauth2-proxy's ProviderData): where a browser without credentials signs in, and
// which headers carry the identity (read by claimNames.identity).
type providerData struct {
	login  loginTemplate
	claims claimNames
}

// LoginURL implements RequestAuthenticator: the platform's login page with {url} and
// {path} filled in, or "" for the gateway's own page.
func (p *providerData) LoginURL(r *http.Request, next string) string {
	return p.login.url(r, next)
}

// loginTemplate is a platform login page, e.g. "https://dashboard.example.com/login?rd={url}":
// "{url}" becomes the query-escaped absolute URL to return to, "{path}" the
// query-escaped local path. The zero value is the gateway's own page.
type loginTemplate struct {
	tmpl string
	base string // scheme://host of {url}; "" takes the request's Host and TLS
}

// newLoginTemplate validates publicURL (scheme://host; a path is dropped), which builds
// {url}; empty takes each request's host.
func newLoginTemplate(tmpl, publicURL string) (loginTemplate, error) {
	t := loginTemplate{tmpl: tmpl}
	if publicURL != "" {
		p, err := url.Parse(publicURL)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			return loginTemplate{}, errors.New("public URL must be scheme://host")
		}
		t.base = p.Scheme + "://" + p.Host
	}
	return t, nil
}

// url returns the login page for a browser that asked for next (LocalPath applies), or
// "" when there is no template.
func (t loginTemplate) url(r *http.Request, next string) string {
	if t.tmpl == "" {
		return ""
	}
	next = LocalPath(next)
	base := t.base
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		host := r.Host
		if host == "" || checkText(host) != nil || strings.ContainsAny(host, "/\\@?#") {
			host = "localhost"
		}
		base = scheme + "://" + host
	}
	return strings.NewReplacer("{url}", url.QueryEscape(base+next), "{path}", url.QueryEscape(next)).Replace(t.tmpl)
}
