package auth

import (
	"net/http/httptest"
	"testing"

	"github.com/codehub-dev/codehub/internal/identity"
)

// TestLocalPath: the one redirect validator refuses what either of the two it replaces
// refused (the gateway's corpus is internal/gateway/redirect_test.go).
func TestLocalPath(t *testing.T) {
	for _, p := range []string{"/a\u202eb", "/\xff", "/a\u2028", "/a\\b", "/%5Cx", "/_codehub/login?next=/x", "//x", "x"} {
		if got := LocalPath(p); got != "/" {
			t.Errorf("LocalPath(%q) = %q, want \"/\"", p, got)
		}
	}
	for _, p := range []string{"/", "/user/alice/?folder=/home/coder", "/caf\u00e9", "/_codehub/oidc/login?next=%2F"} {
		if got := LocalPath(p); got != p {
			t.Errorf("LocalPath(%q) = %q, want it unchanged", p, got)
		}
	}
}

// TestHeaderLoginURLIsForwards: both request providers fill in one login template.
func TestHeaderLoginURLIsForwards(t *testing.T) {
	const tmpl = "https://dashboard.example.com/login?rd={url}&p={path}"
	f, err := NewForward(ForwardConfig{URL: "https://dashboard.example.com/verify", LoginURL: tmpl, PublicURL: "https://codehub.example.com/x"})
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHeader(HeaderConfig{TrustedCIDRs: []string{"10.0.0.0/8"}, LoginURL: tmpl, PublicURL: "https://codehub.example.com/x"})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	for _, next := range []string{"/user/a/?b=c", "//evil.example", "/a\r\nX: y"} {
		if got, want := h.LoginURL(r, next), f.LoginURL(r, next); got != want || got == "" {
			t.Errorf("LoginURL(%q): header %q, forward %q", next, got, want)
		}
	}
	if _, err := NewHeader(HeaderConfig{TrustedCIDRs: []string{"10.0.0.0/8"}, LoginURL: tmpl, PublicURL: "codehub.example.com"}); err == nil {
		t.Error("header: a public URL without a scheme accepted")
	}
	if h, _ := NewHeader(HeaderConfig{TrustedCIDRs: []string{"10.0.0.0/8"}}); h.LoginURL(r, "/") != "" {
		t.Error("header without a login URL: not the gateway's page")
	}
}

// TestIdentityHeadersOneList: what the gateway strips is what Forward refuses to
// forward, the credentials it verifies aside.
func TestIdentityHeadersOneList(t *testing.T) {
	list := IdentityHeaders()
	if len(list) < 22 {
		t.Fatalf("%d identity headers", len(list))
	}
	for _, h := range list {
		_, err := NewForward(ForwardConfig{URL: "https://dashboard.example.com/verify", Headers: []string{h}})
		if credential := h == "Authorization" || h == "Proxy-Authorization"; credential != (err == nil) {
			t.Errorf("forwarding %s: %v", h, err)
		}
	}
	list[0] = "changed"
	if IdentityHeaders()[0] == "changed" {
		t.Error("IdentityHeaders hands out its own list")
	}
}

func TestMembers(t *testing.T) {
	bob := identity.Identity{User: "bob", Groups: []string{"dev", "ops"}}
	for _, tc := range []struct {
		m          Members
		empty, has bool
	}{
		{Members{}, true, false},
		{Members{Users: []string{"", " "}, Groups: []string{""}}, true, false},
		{Members{Users: []string{" bob"}}, false, true},
		{Members{Groups: []string{"ops "}}, false, true},
		{Members{Users: []string{"alice"}, Groups: []string{"admins"}}, false, false},
	} {
		if tc.m.Empty() != tc.empty || tc.m.Has(bob) != tc.has {
			t.Errorf("%+v: Empty %v Has %v, want %v %v", tc.m, tc.m.Empty(), tc.m.Has(bob), tc.empty, tc.has)
		}
	}
}
